"""What ``import kerasgen`` sets up: kerasgen's classes known to Keras, and TensorFlow starting quietly.

Keras loads a ``.keras`` file only when every class the file names is registered, and it never imports the modules
that define them. So once kerasgen is imported, ``kerasgen.models`` (which registers every kerasgen model, layer and
tokenizer) is imported as soon as keras is: at once when keras is already loaded, else when the import that loads
keras has finished. ``import kerasgen`` itself stays cheap: nothing here imports TensorFlow or Keras.

TensorFlow's C++ code prints a few lines on start-up (oneDNN, CUDA factories, cuInit) before any log-level setting
applies. When TensorFlow is imported after kerasgen, those lines are left out (its later messages are not): while it
starts, file descriptor 2 goes to a temporary file, and everything written there that is not one of TensorFlow's log
lines goes on to stderr afterwards, so nothing else written meanwhile is lost. When you set ``TF_CPP_MIN_LOG_LEVEL``
yourself, TensorFlow starts as it always does.
"""

import contextlib
import importlib
import os
import re
import sys
import tempfile

LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"


def quiet_tensorflow():
    """Import TensorFlow with its start-up lines hidden, for programs that own the process (the CLI, scripts).

    Sets ``TF_CPP_MIN_LOG_LEVEL=3`` unless it is set and keeps absl logging to errors; does nothing more when
    TensorFlow is already imported, and nothing at all on another Keras backend (``KERAS_BACKEND``).
    """
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    os.environ.setdefault(LOG_LEVEL_ENV, "3")
    if "tensorflow" in sys.modules:
        return
    with _start_up_lines_left_out():
        import absl.logging
        import tensorflow as tf

        _find_devices(tf)
        absl.logging.set_verbosity(absl.logging.ERROR)


def install_hooks():
    """Register kerasgen's classes with Keras now if keras is loaded, else once it is; called by ``import kerasgen``."""
    if _hooks.registered or _hooks in sys.meta_path:
        return
    sys.meta_path.insert(0, _hooks)
    _hooks.register_when_ready()


# TensorFlow's C++ log lines ("I0000 00:00:1796.. 123 port.cc:153] oneDNN ..."), absl's notice before them, and the
# CPU feature line's second half.
START_UP_LINE = re.compile(
    r"[IWEF]\d{4} [\d:.]+ +\d+ [\w.-]+:\d+\] |WARNING: All log messages before absl::InitializeLog\(\)|"
    r"To enable the following instructions: .* rebuild TensorFlow"
)


@contextlib.contextmanager
def _start_up_lines_left_out():
    """Hold what is written to file descriptor 2 (where TensorFlow's C++ code writes, past ``sys.stderr``) and pass
    on to stderr afterwards every line that is not one of TensorFlow's start-up lines.

    What was held is passed on while file descriptor 2 still points at the temporary file, so that a thread that
    goes on writing meanwhile keeps its order; only the few bytes written in the instant between the last read and
    the switch back are passed on after it.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    held = tempfile.TemporaryFile()
    os.dup2(held.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        relay = _HeldLines(held.fileno(), saved)
        relay.pass_on()
        os.dup2(saved, 2)
        relay.pass_on(last=True)
        os.close(saved)
        held.close()


class _HeldLines:
    """Reads the held file from where it last stopped (``os.pread``: the file offset stays the writers') and writes
    its whole lines, less TensorFlow's start-up lines, to the saved stderr."""

    def __init__(self, held, out):
        self.held, self.out, self.read_to, self.partial = held, out, 0, b""

    def pass_on(self, last=False):
        while chunk := os.pread(self.held, 1 << 16, self.read_to):
            self.read_to += len(chunk)
            lines = (self.partial + chunk).split(b"\n")
            self.partial = lines.pop()
            self._write([line + b"\n" for line in lines])
        if last and self.partial:  # a last line without its newline goes on as it is
            self._write([self.partial])

    def _write(self, lines):
        rest = b"".join(line for line in lines if not START_UP_LINE.match(line.decode("utf-8", "replace")))
        while rest:
            rest = rest[os.write(self.out, rest):]


def _find_devices(tf):
    """Let TensorFlow look for its devices now: cuInit and the CPU feature line print on the first look."""
    tf.config.list_physical_devices("GPU")


class _ImportHooks:
    """A ``sys.meta_path`` entry that finds nothing itself: it wraps how tensorflow, keras and kerasgen's submodules
    load, to start TensorFlow quietly and to register kerasgen's classes once keras is loaded.

    Registration waits until none of these imports is under way: keras finishes loading inside TensorFlow's own
    import, and kerasgen's modules import keras half-way through, so importing ``kerasgen.models`` at that moment
    would meet modules that are only half-initialised.
    """

    def __init__(self):
        self.imports_under_way = 0
        self.registered = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in ("tensorflow", "keras") and not fullname.startswith("kerasgen."):
            return None
        others = [finder for finder in sys.meta_path if finder is not self and hasattr(finder, "find_spec")]
        for finder in others:
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if hasattr(spec.loader, "exec_module"):
                    spec.loader = _HookedLoader(spec.loader, self)
                return spec
        return None

    def load(self, loader, module):
        quiet = module.__name__ == "tensorflow" and LOG_LEVEL_ENV not in os.environ
        self.imports_under_way += 1
        try:
            if quiet:  # the start-up lines only: TensorFlow's later messages keep the user's log level
                with _start_up_lines_left_out():
                    loader.exec_module(module)
                    _find_devices(module)
            else:
                loader.exec_module(module)
        finally:
            self.imports_under_way -= 1
        self.register_when_ready()

    def register_when_ready(self):
        if self.registered or self.imports_under_way or "keras" not in sys.modules:
            return
        self.registered = True
        try:
            importlib.import_module("kerasgen.models")
        finally:
            if self in sys.meta_path:
                sys.meta_path.remove(self)


class _HookedLoader:
    """Runs another loader's ``exec_module`` through ``_ImportHooks.load``; everything else is that loader's."""

    def __init__(self, loader, hooks):
        self.loader = loader
        self.hooks = hooks

    def exec_module(self, module):
        self.hooks.load(self.loader, module)

    def __getattr__(self, name):
        return getattr(self.loader, name)


_hooks = _ImportHooks()
