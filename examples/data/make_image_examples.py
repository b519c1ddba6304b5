"""Write the image examples from what is on disk (nothing is downloaded):

- ``examples/data/digits_images.npz``: scikit-learn's digits as 8 x 8 x 1 images in [0, 1]
  (``x``, float32) with their labels (``y``);
- ``examples/data/shapes/``: an image folder of generated 16 x 16 PNGs, one sub-folder per
  class (circle, square, triangle), 20 images each, drawn at random sizes and places.

Run from the project folder: ``.venv/bin/python examples/data/make_image_examples.py``.
"""
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from sklearn.datasets import load_digits

HERE = Path(__file__).resolve().parent
SIZE, PER_CLASS = 16, 20


def digits_npz() -> None:
    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    np.savez_compressed(HERE / "digits_images.npz", x=x, y=digits.target.astype("int64"))


def shapes() -> None:
    rng = np.random.default_rng(0)
    for shape in ("circle", "square", "triangle"):
        folder = HERE / "shapes" / shape
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(PER_CLASS):
            image = Image.new("RGB", (SIZE, SIZE), tuple(int(v) for v in rng.integers(0, 60, 3)))
            draw = ImageDraw.Draw(image)
            r = int(rng.integers(4, 7))
            cx, cy = (int(v) for v in rng.integers(r, SIZE - r, 2))
            colour = tuple(int(v) for v in rng.integers(150, 256, 3))
            box = (cx - r, cy - r, cx + r, cy + r)
            if shape == "circle":
                draw.ellipse(box, fill=colour)
            elif shape == "square":
                draw.rectangle(box, fill=colour)
            else:
                draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
            image.save(folder / f"{shape}_{i:02d}.png")


if __name__ == "__main__":
    digits_npz()
    shapes()
