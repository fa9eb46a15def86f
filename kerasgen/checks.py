"""Argument checks shared by every layer of kerasgen: counts, real numbers, image shapes and image arrays.

Each returns the value in its plain form (int, float, tuple, float32 array) or raises a one-line TypeError
(wrong kind) or ValueError (out of range) that names the argument. No other kerasgen module is imported
here, and no TensorFlow, so data loading, models and the CLI can all rely on these.
"""

import math
import numbers

import numpy as np


def check_positive_int(value, name, minimum=1, maximum=None):
    """``value`` as an int in [minimum, maximum] (no upper bound when ``maximum`` is None); bools are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"in [{minimum}, {maximum}]" if maximum is not None else f">= {minimum}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def check_real(value, name, minimum=None, maximum=None, *, open_below=False, open_above=False, note=""):
    """``value`` as a finite float within the bounds given; bools, strings and arrays are refused.

    ``minimum`` and ``maximum`` are included unless ``open_below`` / ``open_above`` exclude them, so
    ``check_real(p, "top_p", 0, 1, open_below=True)`` accepts (0, 1]. ``note`` is appended to the range in
    the error message (e.g. what 0 means).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    number = float(value)
    above_minimum = minimum is None or (number > minimum if open_below else number >= minimum)
    below_maximum = maximum is None or (number < maximum if open_above else number <= maximum)
    if not (math.isfinite(number) and above_minimum and below_maximum):
        allowed = _describe_range(minimum, maximum, open_below, open_above)
        raise ValueError(f"{name} must be {allowed}{note}, got {value}")
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
        raise ValueError(f"{name} must be (H, W, C), got {image_shape!r}")
    shape = tuple(check_positive_int(d, name) for d in image_shape)
    if shape[0] % multiple or shape[1] % multiple:
        raise ValueError(f"{name} must be (H, W, C) with H and W divisible by {multiple}, got {shape}")
    return shape


def check_images(images, image_shape, name="images"):
    """``images`` as a float32 numpy array (n, *image_shape) of values in [0, 1]; uint8 pixels are refused."""
    images = np.asarray(images)
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(image_shape):
        raise ValueError(f"{name} must have shape (n, {', '.join(map(str, image_shape))}), got {images.shape}")
    if images.dtype == np.uint8:
        raise TypeError(f"{name} must be floats in [0, 1], got uint8 (divide by 255)")
    if not np.issubdtype(images.dtype, np.floating):
        raise TypeError(f"{name} must be floats in [0, 1], got {images.dtype}")
    if images.size and not (images.min() >= 0 and images.max() <= 1):
        raise ValueError(f"{name} must lie in [0, 1], got values in [{images.min()}, {images.max()}]")
    return images.astype(np.float32)
