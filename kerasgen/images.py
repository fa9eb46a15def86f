"""Image grids and PNG files for samples."""

import math
from pathlib import Path

import numpy as np

from kerasgen.checks import InvalidArgument


def image_grid(images, cols=None, pad=1):
    """float images (n, H, W, C) in [0, 1] to one uint8 grid (rows*H, cols*W, C), padded with white lines."""
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise InvalidArgument(f"images must be (n, H, W, C), got shape {images.shape}")
    n, h, w, c = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, c), np.float32)
    for i, image in enumerate(images):
        r, k = divmod(i, cols)
        grid[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + k * (w + pad) : pad + k * (w + pad) + w] = image
    return np.round(np.clip(grid, 0, 1) * 255).astype(np.uint8)


def scatter_image(points, size=256, margin=8):
    """2-D points to a uint8 (size, size, 1) scatter plot: a black pixel per point on white, y pointing up.

    Both axes share one scale (the larger of the two ranges) so shapes keep their proportions.
    """
    points = np.asarray(points, np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or not len(points):
        raise InvalidArgument(f"points must be a non-empty (n, 2) array, got shape {points.shape}")
    if not np.all(np.isfinite(points)):
        raise InvalidArgument("points must be finite")
    if size <= 2 * margin:
        raise InvalidArgument(f"size must exceed twice the margin ({2 * margin}), got {size}")
    low, high = points.min(0), points.max(0)
    scale = (size - 1 - 2 * margin) / max(float(np.max(high - low)), 1e-12)
    offset = margin + ((size - 1 - 2 * margin) - (high - low) * scale) / 2  # centre the shorter axis
    cols, rows = np.round(offset + (points - low) * scale).astype(int).T
    image = np.full((size, size, 1), 255, np.uint8)
    image[size - 1 - rows, cols] = 0
    return image


def save_png(array, path):
    """Write a uint8 (H, W, 1|3) array as PNG; the folder is created."""
    from PIL import Image

    array = np.asarray(array)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode_array = array[..., 0] if array.shape[-1] == 1 else array
    Image.fromarray(mode_array).save(path)
    return path
