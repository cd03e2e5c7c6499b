"""Particles from eight Gaussians pushed through the shipped TorchCFM field
(assets/demo_flow) with per-particle Tsit5 steps; paths coloured by time.

    pip install ./python matplotlib
    python python/examples/flow_trajectories.py [OUT.png]
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from morphogen import flow  # noqa: E402

ASSETS = Path(__file__).resolve().parents[2] / "assets"
out = sys.argv[1] if len(sys.argv) > 1 else "flow_trajectories.png"

field = flow.VelocityField.load(ASSETS / "demo_flow.safetensors", ASSETS / "demo_flow.json")
rng = np.random.default_rng(7)
n = 2000
centres = 5.0 * np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1)
x0 = centres[rng.integers(0, 8, n)] + 0.5 * rng.normal(size=(n, 2))
times = np.linspace(0, 1, 41)
result = flow.integrate(field, x0, solver="tsit5", rtol=1e-5, atol=1e-5, save_at=times, logp="exact")
states = result["states"]
print(f"{n} particles, {result['evaluations'].mean():.1f} evaluations each on average; "
      f"mean log-density change {result['logp'][-1].mean():.3f}")

fig, ax = plt.subplots(figsize=(8, 8))
segments = np.stack([states[:-1], states[1:]], axis=2)[:, ::4]  # every 4th particle
colours = np.repeat(times[1:], segments.shape[1])
lines = LineCollection(segments.reshape(-1, 2, 2), array=colours, cmap="viridis", alpha=0.4, lw=0.7)
ax.add_collection(lines)
ax.scatter(*states[0].T, s=4, color="#0072B2", label="t = 0")
ax.scatter(*states[-1].T, s=4, marker="^", color="#E69F00", label="t = 1")
fig.colorbar(lines, ax=ax, label="time", shrink=0.8)
ax.set(xlabel="x₁", ylabel="x₂", aspect="equal",
       title=f"The shipped field, eight Gaussians to two moons: {n} particles\ntsit5, rtol 1e-5, atol 1e-5")
ax.legend(loc="upper left")
fig.savefig(out, dpi=110, bbox_inches="tight")
print(f"wrote {out}")
