"""Export for serving: ``model.export(path)`` writes a SavedModel whose signatures do the model's job.

Keras's own ``export`` serves a model's ``call``, and for a subclassed model only after a first call. A kerasgen
model's ``call`` is what ``fit`` trains (a GAN's discriminator, a diffusion model's noising), so ``Servable.export``
serves instead what the model is for, from the same code ``sample``, ``generate`` and friends run: each family
lists its endpoints in ``serving_endpoints`` (name -> function and input signature, in ``keras.ops``). A signature
given the same inputs and seed returns what kerasgen returns, so a server needs neither kerasgen nor its loops.
Images leave as uint8, rounded as ``kerasgen sample --out`` writes them.
"""

import os
import tempfile

import keras
from keras import ops

from kerasgen import backend
from kerasgen.checks import InvalidArgument

FORMATS = ("tf_saved_model", "onnx")  # every kerasgen model; the image generators and classifiers add "litert"
WITH_LITERT = (*FORMATS, "litert")


def spec(shape, dtype, name):
    """One input of an endpoint's signature."""
    return keras.InputSpec(shape=shape, dtype=dtype, name=name)


def scalar(dtype, name):
    return spec((), dtype, name)


SEED = scalar("int32", "seed")
TEMPERATURE = scalar("float32", "temperature")


def as_uint8(images):
    """Float images in [0, 1] as uint8 pixel values, rounded as ``kerasgen sample --out`` rounds them."""
    return ops.cast(ops.round(ops.clip(ops.cast(images, "float32"), 0.0, 1.0) * 255.0), "uint8")


LABELS = spec((None,), "int32", "labels")


def sample_endpoint(draw, num_classes, output=as_uint8):
    """The ``sample`` signature of a model whose ``draw(n, temperature, seed, labels)`` is its ``sample`` in tensors:
    ``sample(n, seed, temperature)``, or with classes ``sample(labels, seed, temperature)`` (one image per label)."""
    if num_classes is None:
        def sample(n, seed, temperature):
            return output(draw(n, temperature, backend.seed_from_tensor(seed), None))

        return sample, [scalar("int32", "n"), SEED, TEMPERATURE]

    def sample_labels(labels, seed, temperature):
        return output(draw(ops.shape(labels)[0], temperature, backend.seed_from_tensor(seed), labels))

    return sample_labels, [LABELS, SEED, TEMPERATURE]


class Servable:
    """Mixin for kerasgen's ``keras.Model`` subclasses: ``export`` writes the endpoints ``serving_endpoints`` lists.

    List it before ``keras.Model``. ``export(path, input_signature=...)`` keeps Keras's own behaviour (the model's
    ``call`` under that signature).
    """

    export_formats = FORMATS  # what ``export`` writes without an ``input_signature``

    def serving_endpoints(self, **options):
        """``{name: (function, input_signature)}``: what a SavedModel of this model serves."""
        raise NotImplementedError

    def network_endpoint(self):
        """``(name, function, input_signature)``: the model's network alone, what an ONNX file holds (the text
        models' logits, an image model's decoder or generator, one U-Net prediction, the classifier)."""
        raise NotImplementedError

    def network_metadata(self):
        """``{key: text}``: what a client of the network alone needs beside it (an ONNX file's metadata)."""
        return {}

    def serving_assets(self):
        """``{file name: text}``: files a client needs beside the signatures, written to the SavedModel's
        ``assets`` folder."""
        return {}

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
        """Export for serving. ``format="tf_saved_model"`` (TensorFlow backend): a SavedModel with the signatures
        ``serving_endpoints`` lists (the first is also ``serving_default``), loadable by ``tf.saved_model.load``
        and TensorFlow Serving without kerasgen. ``kwargs`` are the endpoints' options (a diffusion model's
        ``steps``, ``sampler``, ``eta``); with ``input_signature``, Keras's own export of ``call``."""
        if input_signature is not None:
            return super().export(filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs)
        if format not in self.export_formats:
            raise InvalidArgument(f"{type(self).__name__} exports to {', '.join(self.export_formats)}, not {format!r}")
        if backend.name() != "tensorflow":
            raise InvalidArgument(f"kerasgen exports on the tensorflow backend, not {backend.name()}")
        if not self.built:
            raise InvalidArgument("the model has no weights yet: build, train or load it before exporting it")
        archive = keras.export.ExportArchive()
        archive.track(self)
        if format in ("onnx", "litert"):
            if kwargs:
                raise InvalidArgument(f"{', '.join(kwargs)}: options of the SavedModel's sample, not of {format}")
            return self._export_network(archive, filepath, format)
        for name, (function, signature) in self.serving_endpoints(**kwargs).items():
            archive.add_endpoint(name, function, input_signature=signature)
        archive.write_out(filepath, verbose=bool(verbose))
        for name, text in self.serving_assets().items():
            os.makedirs(os.path.join(filepath, "assets"), exist_ok=True)
            with open(os.path.join(filepath, "assets", name), "w", encoding="utf-8") as file:
                file.write(text)

    def _export_network(self, archive, filepath, format):
        """The network alone (``network_endpoint``) as an ONNX or LiteRT file (float32)."""
        import tensorflow as tf

        from kerasgen import compat

        name, function, signature = self.network_endpoint()
        specs = [tf.TensorSpec(spec.shape, spec.dtype, name=spec.name) for spec in signature]
        traced = archive.add_endpoint(name, function, input_signature=specs)
        if format == "onnx":
            converted, _ = compat.tf2onnx_for_numpy2().convert.from_function(traced, input_signature=specs)
            for key, value in self.network_metadata().items():
                entry = converted.metadata_props.add()
                entry.key, entry.value = key, value
            with open(filepath, "wb") as file:
                file.write(converted.SerializeToString())
            return
        with tempfile.TemporaryDirectory() as saved:  # LiteRT converts a SavedModel of the one signature
            archive.write_out(saved, verbose=False)
            converted = tf.lite.TFLiteConverter.from_saved_model(saved, signature_keys=[name]).convert()
        with open(filepath, "wb") as file:
            file.write(converted)
