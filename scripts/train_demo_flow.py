"""Trains the demo velocity field shipped in assets/: TorchCFM's MLP(2, w=64) learns to
carry eight Gaussians onto two moons by exact-OT conditional flow matching (Tong et al.
2023), then scripts/export_model.py writes it as assets/demo_flow.safetensors + .json.

    python3 -m venv .venv && .venv/bin/pip install torch torchcfm pot safetensors
    .venv/bin/python scripts/train_demo_flow.py            # a few minutes on a CPU
"""

import math
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import torch
from torchcfm.conditional_flow_matching import ExactOptimalTransportConditionalFlowMatcher
from torchcfm.models.models import MLP

ROOT = pathlib.Path(__file__).resolve().parent.parent


def eight_gaussians(n, rng):
    centers = np.array([(math.cos(k * math.pi / 4), math.sin(k * math.pi / 4)) for k in range(8)]) * 5.0
    pick = rng.integers(0, 8, size=n)
    return centers[pick] + rng.normal(scale=0.5, size=(n, 2))


def moons(n, rng):
    half = n // 2
    t = rng.uniform(0, math.pi, size=n)
    upper = np.stack([np.cos(t[:half]), np.sin(t[:half])], axis=1)
    lower = np.stack([1 - np.cos(t[half:]), 0.5 - np.sin(t[half:])], axis=1)
    points = np.concatenate([upper, lower]) + rng.normal(scale=0.05, size=(n, 2))
    return (points - np.array([0.5, 0.25])) * 3.0


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = MLP(dim=2, w=64, time_varying=True)
    matcher = ExactOptimalTransportConditionalFlowMatcher(sigma=0.1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for step in range(6000):
        x0 = torch.tensor(eight_gaussians(256, rng), dtype=torch.float32)
        x1 = torch.tensor(moons(256, rng), dtype=torch.float32)
        t, xt, ut = matcher.sample_location_and_conditional_flow(x0, x1)
        loss = ((model(torch.cat([xt, t[:, None]], dim=-1)) - ut) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 1000 == 0:
            print(f"step {step}: loss {loss.item():.4f}")
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = pathlib.Path(tmp) / "demo_flow.pt"
        torch.save(model.state_dict(), ckpt)
        subprocess.run([sys.executable, str(ROOT / "scripts" / "export_model.py"), str(ckpt), str(ROOT / "assets" / "demo_flow")], check=True)


if __name__ == "__main__":
    main()
