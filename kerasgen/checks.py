"""Argument checks shared by every layer of kerasgen: counts, real numbers, image shapes and image arrays.

Each returns the value in its plain form (int, float, tuple, float32 array) or raises a one-line TypeError
(wrong kind) or ValueError (out of range) that names the argument. No other kerasgen module is imported
here, and no TensorFlow, so data loading, models and the CLI can all rely on these.
"""

import math
import re
import numbers

import numpy as np


class KerasgenError(Exception):
    """A caller's mistake (an argument, a file, the data) that kerasgen reports in one line: the command line
    prints it as ``kerasgen: error: ...`` and exits with status 2. Any other exception is a bug."""


class InvalidArgument(KerasgenError, ValueError):
    """A value out of range or not among the choices."""


class WrongType(KerasgenError, TypeError):
    """A value of the wrong type."""


def check_positive_int(value, name, minimum=1, maximum=None):
    """``value`` as an int in [minimum, maximum] (no upper bound when ``maximum`` is None); bools are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise WrongType(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"in [{minimum}, {maximum}]" if maximum is not None else f">= {minimum}"
        raise InvalidArgument(f"{name} must be {bound}, got {value}")
    return int(value)


def check_real(value, name, minimum=None, maximum=None, *, open_below=False, open_above=False, note=""):
    """``value`` as a finite float within the bounds given; bools, strings and arrays are refused.

    ``minimum`` and ``maximum`` are included unless ``open_below`` / ``open_above`` exclude them, so
    ``check_real(p, "top_p", 0, 1, open_below=True)`` accepts (0, 1]. ``note`` is appended to the range in
    the error message (e.g. what 0 means).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise WrongType(f"{name} must be a number, got {type(value).__name__}")
    number = float(value)
    above_minimum = minimum is None or (number > minimum if open_below else number >= minimum)
    below_maximum = maximum is None or (number < maximum if open_above else number <= maximum)
    if not (math.isfinite(number) and above_minimum and below_maximum):
        allowed = _describe_range(minimum, maximum, open_below, open_above)
        raise InvalidArgument(f"{name} must be {allowed}{note}, got {value}")
    return number


def _describe_range(minimum, maximum, open_below, open_above):
    """'a number in [0, 1)', 'a finite number > 0', 'a finite number': the words of ``check_real``'s errors."""
    if minimum is not None and maximum is not None:
        return f"a number in {'(' if open_below else '['}{minimum:g}, {maximum:g}{')' if open_above else ']'}"
    if minimum is not None:
        return f"a finite number {'>' if open_below else '>='} {minimum:g}"
    if maximum is not None:
        return f"a finite number {'<' if open_above else '<='} {maximum:g}"
    return "a finite number"


def check_image_shape(image_shape, multiple=1, name="image_shape"):
    """``image_shape`` as an (H, W, C) tuple of positive ints, H and W divisible by ``multiple``."""
    if isinstance(image_shape, (str, bytes)) or not isinstance(image_shape, (tuple, list)) or len(image_shape) != 3:
        raise InvalidArgument(f"{name} must be (H, W, C), got {image_shape!r}")
    shape = tuple(check_positive_int(d, name) for d in image_shape)
    if shape[0] % multiple or shape[1] % multiple:
        raise InvalidArgument(f"{name} must be (H, W, C) with H and W divisible by {multiple}, got {shape}")
    return shape


def check_images(images, image_shape, name="images"):
    """``images`` as a float32 numpy array (n, *image_shape) of values in [0, 1]; uint8 pixels are refused."""
    images = np.asarray(images)
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(image_shape):
        raise InvalidArgument(f"{name} must have shape (n, {', '.join(map(str, image_shape))}), got {images.shape}")
    if images.dtype == np.uint8:
        raise WrongType(f"{name} must be floats in [0, 1], got uint8 (divide by 255)")
    if not np.issubdtype(images.dtype, np.floating):
        raise WrongType(f"{name} must be floats in [0, 1], got {images.dtype}")
    if images.size and not (images.min() >= 0 and images.max() <= 1):
        raise InvalidArgument(f"{name} must lie in [0, 1], got values in [{images.min()}, {images.max()}]")
    return images.astype(np.float32)


def check_labels(labels, n, num_classes):
    """Class labels for ``n`` samples as an int32 array (n,), or None for unconditional sampling.

    ``labels``: None, one int (every sample), or a sequence of ``n`` ints, each in [0, num_classes).
    ``num_classes`` None means the model is unconditional, which takes no labels.
    """
    if labels is None:
        return None
    if num_classes is None:
        raise InvalidArgument("this model is unconditional (trained without labels): sample it without labels")
    if isinstance(labels, (bool, str, bytes)) or (isinstance(labels, numbers.Real)
                                                  and not isinstance(labels, numbers.Integral)):
        raise WrongType(f"labels must be an int or a sequence of ints, got {type(labels).__name__}")
    if isinstance(labels, numbers.Integral):
        array = np.full(n, int(labels))
    else:
        array = np.asarray(labels)
        if array.ndim != 1:
            raise InvalidArgument(f"labels must be one int or a sequence of {n} ints, got an array of shape "
                                  f"{array.shape}")
        if array.size and not (np.issubdtype(array.dtype, np.integer) and array.dtype != np.bool_):
            raise WrongType(f"labels must be ints, got {array.dtype} values")
        if len(array) != n:
            raise InvalidArgument(f"labels must hold one label per sample: {n} samples but {len(array)} labels")
    out_of_range = array[(array < 0) | (array >= num_classes)]
    if out_of_range.size:
        raise InvalidArgument(f"labels must be in [0, {num_classes - 1}] (the model's {num_classes} classes), "
                              f"got {int(out_of_range[0])}")
    return array.astype(np.int32)


def balanced_labels(n, num_classes):
    """``n`` labels in class order (all 0s, then all 1s, ...), each class's count within one of ``n / num_classes``."""
    num_classes = check_positive_int(num_classes, "num_classes")
    return (np.arange(check_positive_int(n, "n"), dtype=np.int64) * num_classes // n).astype(np.int32)


_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")


def parse_duration(value, name="max_time"):
    """A wall-clock duration as seconds (a float > 0): a number of seconds, or a string such as ``2h``, ``90m``,
    ``1h30m``, ``45s`` or ``3600``. Anything else (zero, negative, ``2x``, empty) is a one-line ValueError."""
    usage = f"{name} must be a duration such as 2h, 90m, 1h30m, 45s or 3600 (seconds)"
    if isinstance(value, bool):
        raise WrongType(f"{usage}, got {value!r}")
    if isinstance(value, numbers.Real):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        match = _DURATION.fullmatch(text)
        try:
            seconds = float(text)
        except ValueError:
            if not text or not match or not any(match.groups()):
                raise InvalidArgument(f"{usage}, got {value!r}") from None
            hours, minutes, secs = (float(part or 0) for part in match.groups())
            seconds = 3600 * hours + 60 * minutes + secs
    else:
        raise WrongType(f"{usage}, got {type(value).__name__}")
    if not (math.isfinite(seconds) and seconds > 0):
        raise InvalidArgument(f"{usage} and longer than 0, got {value!r}")
    return seconds


def format_duration(seconds):
    """``2h 0m``, ``5m 12s``, ``40s``: a duration for one line of output."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    if seconds >= 60:
        return f"{seconds // 60}m {seconds % 60}s"
    return f"{seconds}s"
