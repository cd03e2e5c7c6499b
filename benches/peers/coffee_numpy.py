"""The Coffee Automaton by its authors' algorithm in plain numpy, timed for `cargo bench
--bench coffee`.

Interacting: pick a cell and one of four directions uniformly; redraw if the neighbour is
off the grid or holds the same value, else swap (one step). The draws come from numpy in
blocks (faster than the authors' `random.randrange` per draw); the chain itself is a
Python loop, as it must be: each swap depends on the last. Non-interacting: every particle
moves at once, vectorised over particles and replicas. Samples: the window sums by a
summed-area table (cumsum), 3 buckets, zlib level 6 of one byte per cell.

Prints one JSON line.
"""

import argparse
import json
import time
import zlib

import numpy as np


def esttime(n):
    return 25000 if n < 30 else 2495 * n * n - 173600 * n + 3029000


def interacting(cells, swaps, rng):
    """Runs `swaps` swaps on `cells` (n x n uint8) in place; returns the attempts made."""
    n = cells.shape[0]
    done = attempts = 0
    while done < swaps:
        xs = rng.integers(0, n, 1 << 16).tolist()
        ys = rng.integers(0, n, 1 << 16).tolist()
        ds = rng.integers(0, 4, 1 << 16).tolist()
        for x0, y0, d in zip(xs, ys, ds):
            attempts += 1
            x1 = x0 + (d == 1) - (d == 0)
            y1 = y0 + (d == 3) - (d == 2)
            if x1 < 0 or x1 >= n or y1 < 0 or y1 >= n:
                continue
            a = cells[y0, x0]
            b = cells[y1, x1]
            if a != b:
                cells[y0, x0] = b
                cells[y1, x1] = a
                done += 1
                if done == swaps:
                    break
    return attempts


def noninteracting(rows, cols, n, steps, rng):
    for _ in range(steps):
        d = rng.integers(0, 4, rows.shape, dtype=np.int8)
        cols += (d == 1).astype(np.int32) - (d == 0)
        rows += (d == 3).astype(np.int32) - (d == 2)
        np.clip(cols, 0, n - 1, out=cols)
        np.clip(rows, 0, n - 1, out=rows)


def sample(cells, g):
    """Compressed sizes of the fine and the 3-bucket coarse state."""
    n = cells.shape[0]
    h = g // 2
    sat = np.zeros((n + 1, n + 1), np.int64)
    sat[1:, 1:] = cells.astype(np.int64).cumsum(0).cumsum(1)
    lo = np.maximum(np.arange(n) - h, 0)
    hi = np.minimum(np.arange(n) + h, n - 1) + 1
    s = sat[hi][:, hi] - sat[lo][:, hi] - sat[hi][:, lo] + sat[lo][:, lo]
    count = np.outer(hi - lo, hi - lo)
    coarse = np.where(3 * s <= count, 0, np.where(3 * s <= 2 * count, 1, 2)).astype(np.uint8)
    fine = np.minimum(cells, 255).astype(np.uint8)
    return len(zlib.compress(fine.tobytes(), 6)), len(zlib.compress(coarse.tobytes(), 6))


def grain(n):
    g = round(n**0.5)
    return g - 1 if g % 2 == 0 else g


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=100)
    p.add_argument("--swaps", type=int, default=200_000)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--replicas", type=int, default=16)
    p.add_argument("--full", action="store_true", help="one whole reference-length interacting run")
    a = p.parse_args()
    n = a.size
    rng = np.random.default_rng(0)
    out = {"numpy": np.__version__, "n": n}

    cells = np.zeros((n, n), np.uint8)
    cells[: n // 2] = 1
    t = time.perf_counter()
    attempts = interacting(cells, a.swaps, rng)
    dt = time.perf_counter() - t
    out.update(swaps=a.swaps, attempts=attempts, swaps_per_s=a.swaps / dt, attempts_per_s=attempts / dt)

    p_count = n * n // 2
    rows = np.repeat(np.arange(n // 2, dtype=np.int32), n)[None, :].repeat(a.replicas, 0)
    cols = np.tile(np.arange(n, dtype=np.int32), n // 2)[None, :].repeat(a.replicas, 0)
    t = time.perf_counter()
    noninteracting(rows, cols, n, a.steps, rng)
    dt = time.perf_counter() - t
    out.update(walk_replicas=a.replicas, moves_per_s=a.replicas * p_count * a.steps / dt)

    t = time.perf_counter()
    for _ in range(20):
        sample(cells, grain(n))
    out["sample_seconds"] = (time.perf_counter() - t) / 20

    if a.full:
        est = esttime(n)
        interval = est // 400
        cells = np.zeros((n, n), np.uint8)
        cells[: n // 2] = 1
        t = time.perf_counter()
        sample(cells, grain(n))
        done = 0
        while done + interval <= 4 * est:
            interacting(cells, interval, rng)
            done += interval
            sample(cells, grain(n))
        out.update(full_swaps=done, full_seconds=time.perf_counter() - t)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
