"""CD14+ monocytes transported onto dendritic cells (the PBMC subset in assets/pbmc) in
their 50 PCA dimensions, drawn on the cells' UMAP with pairs from the coupling.

    pip install ./python matplotlib
    python python/examples/single_cell_transport.py [OUT.png]
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import morphogen  # noqa: E402

ROOT = Path(__file__).resolve().parents[2] / "assets/pbmc"
out = sys.argv[1] if len(sys.argv) > 1 else "single_cell_transport.png"

mono, dend = np.load(ROOT / "monocytes_pca.npy"), np.load(ROOT / "dendritic_pca.npy")
mono_umap, dend_umap = np.load(ROOT / "monocytes_umap.npy"), np.load(ROOT / "dendritic_umap.npy")

coupling = morphogen.transport.Coupling(mono, dend, eps_rel=0.02, tol=1e-4)
s = coupling.solution
print(f"{len(mono)} monocytes -> {len(dend)} dendritic cells: {s.iterations} iterations, "
      f"marginal error {s.marginal_error:.1e}, <C,P> {s.primal_cost:.2f}")
pairs = coupling.sample(400, seed=1)
# The entropic map read in UMAP coordinates: each monocyte's plan row averages the
# dendritic cells' UMAP positions.
plan = coupling.plan()
arrows = (plan @ dend_umap) / plan.sum(axis=1, keepdims=True)

fig, ax = plt.subplots(figsize=(8, 8))
for i, j in pairs:
    ax.plot(*zip(mono_umap[i], dend_umap[j]), color="0.5", alpha=0.15, lw=0.8)
for i in range(0, len(mono), 2):
    ax.annotate("", arrows[i], mono_umap[i], arrowprops=dict(arrowstyle="->", color="black", alpha=0.6))
ax.scatter(*dend_umap.T, marker="^", s=25, color="#E69F00", label=f"dendritic cells ({len(dend)})")
ax.scatter(*mono_umap.T, marker="o", s=18, color="#0072B2", label=f"CD14+ monocytes ({len(mono)})")
ax.plot([], [], color="0.5", label=f"{len(pairs)} pairs drawn from the coupling")
ax.set(xlabel="UMAP 1", ylabel="UMAP 2",
       title=f"Monocytes to dendritic cells, coupled in 50 PCA dimensions\n"
             f"ε = {s.epsilon:.3f}, {s.iterations} iterations, marginal error {s.marginal_error:.1e}")
ax.legend(loc="upper left")
fig.savefig(out, dpi=110, bbox_inches="tight")
print(f"wrote {out}")
