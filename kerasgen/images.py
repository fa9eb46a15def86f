"""Image grids and PNG files for samples."""

import math
from pathlib import Path

import numpy as np


def image_grid(images, cols=None, pad=1):
    """float images (n, H, W, C) in [0, 1] to one uint8 grid (rows*H, cols*W, C), padded with white lines."""
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be (n, H, W, C), got shape {images.shape}")
    n, h, w, c = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, c), np.float32)
    for i, image in enumerate(images):
        r, k = divmod(i, cols)
        grid[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + k * (w + pad) : pad + k * (w + pad) + w] = image
    return np.round(np.clip(grid, 0, 1) * 255).astype(np.uint8)


def save_png(array, path):
    """Write a uint8 (H, W, 1|3) array as PNG; the folder is created."""
    from PIL import Image

    array = np.asarray(array)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode_array = array[..., 0] if array.shape[-1] == 1 else array
    Image.fromarray(mode_array).save(path)
    return path
