"""Sample a kerasgen diffusion model exported to ONNX, with a DDIM loop in numpy and ONNX Runtime (no Keras).

    kerasgen export diffusion-mnist --format onnx --out diffusion.onnx
    python examples/onnx_ddim.py diffusion.onnx -n 16 --steps 50 --out digits.npy
    python examples/onnx_ddim.py diffusion-cond.onnx --labels 0,1,2,3 --out digits.npy   # a model with classes

The ONNX file holds the U-Net (the EMA weights) as ``predict(x, timesteps[, labels])``; its metadata holds what the
loop needs: the schedule's ``alpha_bars``, what the network predicts (the noise or v) and the number of classes.
The loop is DDIM with eta 0 (deterministic) over the evenly spaced "trailing" timesteps, as ``model.sample(n,
steps=S, eta=0)`` runs it; given the same starting noise it draws the same images (within float32 rounding).
"""

import argparse
import json

import numpy as np


def ddim_sample(session, noise, steps=50, labels=None):
    """Images in [0, 1] (float32, like ``x``) from ``noise`` (n, H, W, C): DDIM, eta 0, ``steps`` steps."""
    metadata = session.get_modelmeta().custom_metadata_map
    alpha_bars = np.array(json.loads(metadata["alpha_bars"]), np.float32)
    prediction = metadata["prediction"]
    count = len(alpha_bars)
    timesteps = [(steps - i) * count // steps - 1 for i in range(steps)]
    x = noise.astype(np.float32)
    for i, t in enumerate(timesteps):
        alpha_bar = alpha_bars[t]
        alpha_bar_prev = alpha_bars[timesteps[i + 1]] if i + 1 < steps else np.float32(1.0)
        feed = {"x": x, "timesteps": np.full(len(x), t, np.int32)}
        if labels is not None:
            feed["labels"] = np.asarray(labels, np.int32)
        output = session.run(None, feed)[0]
        if prediction == "v":
            x0 = np.sqrt(alpha_bar) * x - np.sqrt(1 - alpha_bar) * output
        else:
            x0 = (x - np.sqrt(1 - alpha_bar) * output) / np.sqrt(alpha_bar)
        x0 = np.clip(x0, -1.0, 1.0)
        predicted_noise = (x - np.sqrt(alpha_bar) * x0) / np.sqrt(1 - alpha_bar)
        x = np.sqrt(alpha_bar_prev) * x0 + np.sqrt(np.maximum(1 - alpha_bar_prev, 0.0)) * predicted_noise
    return np.clip((x + 1) / 2, 0, 1).astype(np.float32)


def main():
    import onnxruntime

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a diffusion model's .onnx file (kerasgen export NAME --format onnx)")
    parser.add_argument("-n", type=int, default=16, help="images without --labels")
    parser.add_argument("--labels", help="a model with classes: one comma-separated class per image")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help=".npy file for the uint8 images")
    args = parser.parse_args()

    session = onnxruntime.InferenceSession(args.model)
    labels = None if args.labels is None else [int(label) for label in args.labels.split(",")]
    shape = [len(labels) if labels else args.n, *session.get_inputs()[0].shape[1:]]
    noise = np.random.default_rng(args.seed).standard_normal(shape).astype(np.float32)
    images = ddim_sample(session, noise, args.steps, labels)
    np.save(args.out, np.round(images * 255).astype(np.uint8))
    print(f"wrote {len(images)} images to {args.out}")


if __name__ == "__main__":
    main()
