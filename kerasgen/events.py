"""TensorBoard event files written without TensorFlow: scalars, text and images, for training on any backend.

An event file is a sequence of records (TFRecord framing: the length, its masked CRC-32C, the bytes, their masked
CRC-32C), each an ``Event`` protocol buffer: the first holds the file version, the others a ``Summary`` at a step.
The few messages needed are encoded here by hand; TensorBoard reads them as it reads TensorFlow's own (scalars as
``simple_value``, text and PNG images as the string tensors ``tf.summary.text`` and ``tf.summary.image`` write).
"""

import io
import os
import socket
import struct
import time

import numpy as np

from kerasgen.checks import InvalidArgument


def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data):
    """CRC-32C (Castagnoli) of ``data``, as TFRecord files check their records."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked_crc(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(data):
    """One TFRecord: length, masked CRC of the length, data, masked CRC of the data."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", _masked_crc(length)) + data + struct.pack("<I", _masked_crc(data))


# --- protocol buffer encoding: only what an Event needs ---------------------------------------------------------

def _varint(value):
    out = bytearray()
    value &= (1 << 64) - 1  # negative int64s as two's complement
    while True:
        bits, value = value & 0x7F, value >> 7
        out.append(bits | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _key(field, wire_type):
    return _varint(field << 3 | wire_type)


def _int(field, value):
    return _key(field, 0) + _varint(int(value))


def _double(field, value):
    return _key(field, 1) + struct.pack("<d", value)


def _float(field, value):
    return _key(field, 5) + struct.pack("<f", value)


def _bytes(field, value):
    value = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return _key(field, 2) + _varint(len(value)) + value


def _event(step=None, summary_value=None, file_version=None, wall_time=None):
    event = _double(1, time.time() if wall_time is None else wall_time)
    if step is not None:
        event += _int(2, step)
    if file_version is not None:
        event += _bytes(3, file_version)
    if summary_value is not None:
        event += _bytes(5, _bytes(1, summary_value))  # Summary { repeated Value value = 1 }
    return event


def scalar_value(tag, value):
    """``Summary.Value`` with ``simple_value``."""
    return _bytes(1, tag) + _float(2, float(value))


def text_value(tag, text):
    """``Summary.Value`` holding a string tensor for TensorBoard's text plugin (markdown)."""
    metadata = _bytes(1, _bytes(1, "text"))  # SummaryMetadata { plugin_data { plugin_name = "text" } }
    tensor = _int(1, 7) + _bytes(2, b"") + _bytes(8, text)  # TensorProto { DT_STRING, scalar shape, string_val }
    return _bytes(1, tag) + _bytes(9, metadata) + _bytes(8, tensor)


def image_value(tag, image):
    """``Summary.Value`` holding ``image`` (uint8 (H, W) or (H, W, 1 | 3 | 4)) as ``tf.summary.image`` writes it: a
    string tensor [width, height, PNG] for TensorBoard's images plugin."""
    from PIL import Image

    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (1, 3, 4)):
        raise InvalidArgument(f"image must be uint8 (H, W) or (H, W, 1|3|4), got {image.dtype} {image.shape}")
    pixels = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
    png = io.BytesIO()
    Image.fromarray(pixels).save(png, format="PNG")
    metadata = _bytes(1, _bytes(1, "images"))  # SummaryMetadata { plugin_data { plugin_name = "images" } }
    shape = _bytes(2, _int(1, 3))  # TensorShapeProto { dim { size: 3 } }
    strings = [str(image.shape[1]).encode(), str(image.shape[0]).encode(), png.getvalue()]
    tensor = _int(1, 7) + _bytes(2, shape) + b"".join(_bytes(8, value) for value in strings)
    return _bytes(1, tag) + _bytes(9, metadata) + _bytes(8, tensor)


class EventWriter:
    """Appends summaries to a new event file in ``log_dir`` (created if needed); TensorBoard shows ``log_dir`` as
    one run. Each write goes to disk at once (``flush`` is implicit), so a killed run keeps what it logged."""

    def __init__(self, log_dir):
        os.makedirs(log_dir, exist_ok=True)
        name = f"events.out.tfevents.{time.time():.6f}.{socket.gethostname()}.{os.getpid()}.kerasgen"
        self.path = os.path.join(log_dir, name)
        self._file = open(self.path, "ab")
        self._write(_event(file_version="brain.Event:2"))

    def _write(self, event):
        self._file.write(record(event))
        self._file.flush()

    def scalar(self, tag, value, step):
        self._write(_event(step, scalar_value(tag, value)))

    def text(self, tag, text, step):
        self._write(_event(step, text_value(tag, text)))

    def image(self, tag, image, step):
        self._write(_event(step, image_value(tag, image)))

    def close(self):
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
