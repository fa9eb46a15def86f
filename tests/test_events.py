"""TensorBoard event files written without TensorFlow: TensorFlow's record reader checks their framing and CRCs,
its protocol buffers parse them, and TensorBoard's own reader gives back the scalars, text and images written."""

import io

import numpy as np
import pytest
from PIL import Image

from kerasgen import events

pytest.importorskip("tensorboard")


def test_crc32c_matches_the_standard_check_values():
    assert events.crc32c(b"") == 0
    assert events.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert events.crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720, B.4: 32 bytes of zeros


def write_run(log_dir):
    image = np.zeros((6, 5, 3), np.uint8)
    image[1:4, 2, 0] = 255
    with events.EventWriter(str(log_dir)) as writer:
        for step, value in enumerate([2.5, 1.25, -0.5]):
            writer.scalar("epoch_loss", value, step)
        writer.text("sample", "ROMEO:\n    the king", 1)
        writer.image("grid", image, 2)
        writer.image("gray", image[..., :1], 3)
    return writer.path, image


def test_tensorflow_reads_every_record_and_parses_every_event(tmp_path):
    tf = pytest.importorskip("tensorflow")
    from tensorflow.core.util import event_pb2

    path, _ = write_run(tmp_path)

    parsed = [event_pb2.Event.FromString(raw.numpy()) for raw in tf.data.TFRecordDataset(path)]

    assert parsed[0].file_version == "brain.Event:2"
    assert [(e.step, e.summary.value[0].tag) for e in parsed[1:]] == [
        (0, "epoch_loss"), (1, "epoch_loss"), (2, "epoch_loss"), (1, "sample"), (2, "grid"), (3, "gray")]
    assert [e.summary.value[0].simple_value for e in parsed[1:4]] == [2.5, 1.25, -0.5]
    assert all(e.wall_time > 1e9 for e in parsed)


def test_tensorboard_reads_back_scalars_text_and_images(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, image = write_run(tmp_path)
    reader = EventAccumulator(str(tmp_path), size_guidance={"images": 0, "tensors": 0, "scalars": 0})
    reader.Reload()

    assert [(s.step, s.value) for s in reader.Scalars("epoch_loss")] == [(0, 2.5), (1, 1.25), (2, -0.5)]
    (text,) = reader.Tensors("sample")
    assert text.step == 1 and text.tensor_proto.string_val == [b"ROMEO:\n    the king"]
    assert reader.SummaryMetadata("sample").plugin_data.plugin_name == "text"
    for tag, step, expected in (("grid", 2, image), ("gray", 3, image[..., 0])):
        (logged,) = reader.Tensors(tag)
        width, height, png = logged.tensor_proto.string_val
        assert (logged.step, int(width), int(height)) == (step, 5, 6)
        assert reader.SummaryMetadata(tag).plugin_data.plugin_name == "images"
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))), expected)


def test_a_bad_image_is_refused_naming_its_dtype_and_shape(tmp_path):
    with events.EventWriter(str(tmp_path)) as writer:
        with pytest.raises(ValueError, match=r"image must be uint8 \(H, W\) or \(H, W, 1\|3\|4\), got float32 \(2, 2, 2\)"):
            writer.image("bad", np.zeros((2, 2, 2), np.float32), 0)


def test_epoch_scalars_log_what_keras_tensorboard_logs_where_it_logs_it(tmp_path):
    import keras
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from kerasgen.callbacks import EpochScalars

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 3)).astype(np.float32), rng.standard_normal((64, 1)).astype(np.float32)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"])

    history = model.fit(x, y, epochs=3, validation_split=0.25, verbose=0, callbacks=[EpochScalars(str(tmp_path))])

    for run, prefix in (("train", ""), ("validation", "val_")):
        reader = EventAccumulator(str(tmp_path / run))
        reader.Reload()
        assert sorted(reader.Tags()["scalars"]) == ["epoch_loss", "epoch_mae"]
        for name in ("loss", "mae"):
            logged = [(s.step, s.value) for s in reader.Scalars(f"epoch_{name}")]
            assert [step for step, _ in logged] == [0, 1, 2]
            np.testing.assert_allclose([v for _, v in logged], history.history[prefix + name], rtol=1e-6)
