"""Writes the single-cell demo data in assets/pbmc/: two cell populations of the PBMC
dataset that ships inside the scanpy package (`scanpy.datasets.pbmc68k_reduced()`, a
700-cell subset of 10x Genomics' 68k PBMCs): CD14+ monocytes and dendritic cells, as
their 50 PCA coordinates (`*_pca.npy`, float32, N x 50) and their UMAP coordinates for
drawing (`*_umap.npy`, N x 2), both as computed by scanpy's authors and stored in the file.

    python3 -m venv /tmp/scanpy && /tmp/scanpy/bin/pip install scanpy
    /tmp/scanpy/bin/python scripts/make_pbmc_subset.py
"""

import pathlib

import numpy as np
import scanpy as sc

POPULATIONS = {"monocytes": "CD14+ Monocyte", "dendritic": "Dendritic"}


def main():
    adata = sc.datasets.pbmc68k_reduced()
    out = pathlib.Path(__file__).resolve().parent.parent / "assets" / "pbmc"
    out.mkdir(parents=True, exist_ok=True)
    for name, label in POPULATIONS.items():
        cells = (adata.obs["bulk_labels"] == label).to_numpy()
        np.save(out / f"{name}_pca.npy", np.ascontiguousarray(adata.obsm["X_pca"][cells], dtype=np.float32))
        np.save(out / f"{name}_umap.npy", np.ascontiguousarray(adata.obsm["X_umap"][cells], dtype=np.float32))
        print(f"{name}: {cells.sum()} cells")
    print("written to", out)


if __name__ == "__main__":
    main()
