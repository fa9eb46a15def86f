"""Every use of Keras/TensorFlow private API in kerasgen, each checked where it is used.

The rest of the package calls the names below. When a Keras upgrade moves
one of the private things they rely on, the call fails with a one-line
RuntimeError naming it (tests/test_compat.py exercises each), instead of an
AttributeError deep inside ``fit`` or a patch that silently stops applying.
"""

import importlib

import keras


def _moved(thing, purpose):
    return RuntimeError(f"Keras {keras.__version__} no longer has {thing}, which kerasgen.compat relies on for "
                        f"{purpose}; use a Keras version kerasgen supports or update kerasgen/compat.py")


def _require(owner, name, where, purpose):
    """``owner.name``, or the one-line RuntimeError saying that ``where.name`` moved."""
    try:
        return getattr(owner, name)
    except AttributeError:
        raise _moved(f"{where}.{name}", purpose) from None


_MULTIWORKER_FIT = "model.fit under MultiWorkerMirroredStrategy (keras-team/keras#20585)"


def patch_fit_for_multiworker():
    """Work around keras-team/keras#20585 so ``model.fit`` trains under ``MultiWorkerMirroredStrategy``.

    Keras 3's TensorFlow trainer calls ``strategy.reduce("MEAN", ...)`` in two
    places that fail across workers: on a whole input batch before building
    (only its shapes matter: the first local replica's slice serves), and on
    the scalar step logs along ``axis=0`` (an elementwise mean over replicas,
    ``axis=None``, is what is meant). Both replacements apply to multi-worker
    strategies only; every other strategy runs Keras's own code. Patching
    twice is harmless.
    """
    import tensorflow as tf

    where = "keras.src.backend.tensorflow.trainer"
    try:
        trainer = importlib.import_module(where)
    except ImportError:
        raise _moved(f"the module {where}", _MULTIWORKER_FIT) from None
    multi_worker = _require(trainer, "_collective_all_reduce_multi_worker", where, _MULTIWORKER_FIT)
    reduce_per_replica = _require(trainer, "reduce_per_replica", where, _MULTIWORKER_FIT)
    trainer_class = _require(trainer, "TensorFlowTrainer", where, _MULTIWORKER_FIT)
    maybe_symbolic_build = _require(trainer_class, "_maybe_symbolic_build", f"{where}.TensorFlowTrainer",
                                    _MULTIWORKER_FIT)
    if getattr(trainer, "_kerasgen_multiworker_fix", False):
        return

    def reduce_logs(values, strategy, reduction):
        if reduction in ("auto", "mean") and multi_worker(strategy):
            return tf.nest.map_structure(lambda value: strategy.reduce("MEAN", value, axis=None), values)
        return reduce_per_replica(values, strategy, reduction)

    def symbolic_build(model, iterator=None, data_batch=None):
        if iterator is not None and multi_worker(model.distribute_strategy):
            _, _, batches = next(iter(iterator))
            first_replica = model.distribute_strategy.experimental_local_results
            data_batch, iterator = tf.nest.map_structure(lambda value: first_replica(value)[0], next(batches)), None
        return maybe_symbolic_build(model, iterator=iterator, data_batch=data_batch)

    trainer.reduce_per_replica = reduce_logs
    trainer_class._maybe_symbolic_build = symbolic_build
    trainer._kerasgen_multiworker_fix = True


_RESUME_EPOCH = "the epoch a resumed fit starts from"


def resume_epoch(model):
    """The epoch the next ``fit`` starts from when a restore set one (Keras's ``BackupAndRestore`` does), else 0."""
    return _require(model, "_initial_epoch", "keras.Model", _RESUME_EPOCH) or 0


def set_resume_epoch(model, epoch):
    """Make the next ``fit`` start at ``epoch`` (0: where its own ``initial_epoch`` says), as a restore does."""
    _require(model, "_initial_epoch", "keras.Model", _RESUME_EPOCH)
    model._initial_epoch = int(epoch) or None


def loss_tracker(model):
    """The ``keras.metrics.Mean`` behind a compiled model's "loss" log, for a ``train_step`` that computes the loss
    itself (JAX's stateless step updates it under a ``StatelessScope``)."""
    return _require(model, "_loss_tracker", "keras.Model", 'the "loss" log of a custom JAX train_step')


def all_layers(model):
    """``model`` and every layer nested in it, at any depth."""
    flatten = _require(model, "_flatten_layers", "keras.layers.Layer", "listing every nested layer of a model")
    return flatten(include_self=True, recursive=True)


_BACKUP = "keras.callbacks.BackupAndRestore"
_ATOMIC_BACKUP = "writing BackupAndRestore checkpoints atomically"


class BackupAndRestoreHooks(keras.callbacks.BackupAndRestore):
    """``keras.callbacks.BackupAndRestore`` whose restore and save steps a subclass overrides by public names.

    Keras calls its private ``_load_model`` (from ``on_train_begin``) and
    ``_save_model`` (at each save); here they call ``load_checkpoint`` and
    ``save_checkpoint``, whose defaults are Keras's own. The checkpoint's file
    paths and the progress Keras records are readable as properties. Each
    private member is checked on construction, so a Keras that moved one fails
    before training starts.
    """

    _HOOKS = ("_load_model", "_save_model")
    _STATE = ("_weights_path", "_training_metadata_path", "_prev_weights_path", "_prev_training_metadata_path",
              "_current_epoch", "_last_batch_seen")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self._HOOKS:
            _require(keras.callbacks.BackupAndRestore, name, _BACKUP, _ATOMIC_BACKUP)
        for name in self._STATE:
            _require(self, name, _BACKUP, _ATOMIC_BACKUP)

    def load_checkpoint(self):
        """Restore the weights and starting epoch from ``backup_dir`` (Keras's step; raises OSError on a bad file)."""
        super()._load_model()

    def save_checkpoint(self):
        """Write the weights and ``progress`` to ``backup_dir`` (Keras's step)."""
        super()._save_model()

    def _load_model(self):
        self.load_checkpoint()

    def _save_model(self):
        self.save_checkpoint()

    @property
    def weights_path(self):
        """The checkpoint's weights file."""
        return self._weights_path

    @property
    def metadata_path(self):
        """The checkpoint's JSON file of progress (``{"epoch": ..., "batch": ...}``)."""
        return self._training_metadata_path

    @property
    def previous_weights_path(self):
        """The previous checkpoint's weights file, kept with ``double_checkpoint=True``."""
        return self._prev_weights_path

    @property
    def previous_metadata_path(self):
        """The previous checkpoint's progress file, kept with ``double_checkpoint=True``."""
        return self._prev_training_metadata_path

    @property
    def progress(self):
        """What a save records: the epochs finished and the last batch seen in the current one."""
        return {"epoch": self._current_epoch, "batch": self._last_batch_seen}

    def set_progress(self, epoch, batch):
        """Record that ``epoch`` epochs are finished and ``batch`` steps of the next are done (a mid-epoch save)."""
        self._current_epoch, self._last_batch_seen = epoch, batch


def tf2onnx_for_numpy2():
    """``tf2onnx`` with Keras's patch for NumPy 2 applied (tf2onnx still reads ``np.object`` and the like)."""
    try:
        import tf2onnx
    except ImportError:
        raise ImportError("ONNX export needs tf2onnx, onnx and onnxruntime: pip install 'kerasgen[export]'") from None
    try:
        module = importlib.import_module("keras.src.export.tf2onnx_lib")
    except ImportError:
        raise _moved("keras.src.export.tf2onnx_lib", "converting to ONNX under NumPy 2") from None
    _require(module, "patch_tf2onnx", "keras.src.export.tf2onnx_lib", "converting to ONNX under NumPy 2")()
    return tf2onnx
