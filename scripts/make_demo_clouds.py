"""Writes the demo point clouds in assets/clouds/: `source.npy`, a Gaussian blob of 600
points, and `target.npy`, 700 points on a noisy ring around it (float32, N x 2, C order).
`morphogen demo` solves optimal transport between them and draws the entropic map.

    python3 scripts/make_demo_clouds.py     # needs numpy
"""

import pathlib

import numpy as np


def main():
    rng = np.random.default_rng(2024)
    source = rng.normal(0.0, 0.35, size=(600, 2))
    angle = rng.uniform(0.0, 2 * np.pi, size=700)
    radius = 1.6 + rng.normal(0.0, 0.06, size=700)
    target = np.stack([radius * np.cos(angle) + 0.4, radius * np.sin(angle)], axis=1)
    out = pathlib.Path(__file__).resolve().parent.parent / "assets" / "clouds"
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "source.npy", source.astype(np.float32))
    np.save(out / "target.npy", target.astype(np.float32))


if __name__ == "__main__":
    main()
