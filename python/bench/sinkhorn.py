"""Time to a marginal error of 1e-3 from Python: morphogen against POT and OTT-JAX in the
same process, on the same problems, including the cost of moving numpy arrays to and
from the GPU (morphogen) and of building the cost matrix (POT).

    pip install ./python POT ott-jax
    python python/bench/sinkhorn.py [--sizes 1000,4000,16000] [--dims 2,64] [--budget 120]

Problems: x ~ U[0,1]^d, y ~ U[0,1]^d + 0.1, uniform weights, squared Euclidean cost,
eps = 0.05 x mean cost, balanced, from zero potentials. morphogen and OTT stop on the L1
marginal error checked every 10 iterations; POT's sinkhorn_log on the L2 norm of one
marginal (looser). Each solver runs once untimed (kernel compilation, jit), then timed.
A solver predicted to exceed the budget (seconds) is skipped.
"""

import argparse
import json
import time

import numpy as np


def problem(n, d, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(n, d)), rng.uniform(size=(n, d)) + 0.1


def timed(fn):
    fn()  # compile / warm up
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run_morphogen(x, y, eps):
    import morphogen

    def solve():
        s = morphogen.transport.solve(x, y, eps=eps, tol=1e-3, max_iter=10_000)
        return s.f, s.g, s.iterations  # potentials back in numpy

    secs, (_, _, its) = timed(solve)
    return {"seconds": secs, "iterations": its}


def run_pot(x, y, eps):
    import ot

    a = np.full(len(x), 1 / len(x))
    b = np.full(len(y), 1 / len(y))

    def solve():
        M = ot.dist(x, y)
        _, log = ot.sinkhorn(a, b, M, eps, method="sinkhorn_log", numItermax=10_000,
                             stopThr=1e-3, log=True)
        return log["niter"]

    secs, its = timed(solve)
    return {"seconds": secs, "iterations": int(its)}


def run_ott(x, y, eps):
    import jax
    import jax.numpy as jnp
    from ott.geometry import pointcloud
    from ott.problems.linear import linear_problem
    from ott.solvers.linear import sinkhorn

    online = len(x) * len(y) > 20_000 ** 2
    solver = jax.jit(sinkhorn.Sinkhorn(threshold=1e-3, max_iterations=10_000, norm_error=1,
                                       inner_iterations=10, min_iterations=0))

    def solve():
        geom = pointcloud.PointCloud(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32),
                                     epsilon=eps, batch_size=1024 if online else None)
        out = solver(linear_problem.LinearProblem(geom))
        return np.asarray(out.f), int(np.sum(np.asarray(out.errors) > -1) * 10)

    secs, (_, its) = timed(solve)
    return {"seconds": secs, "iterations": its}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", default="1000,4000,16000")
    p.add_argument("--dims", default="2,64")
    p.add_argument("--budget", type=float, default=120.0)
    args = p.parse_args()
    import morphogen

    print(f"morphogen on {morphogen.default_context().adapter}")
    rows = []
    # Seconds per n^2 entry seen so far, per solver, to predict what fits the budget.
    rate = {}
    print(f"{'n':>7} {'d':>3} | {'morphogen':>10} {'its':>5} | {'POT':>10} {'its':>5} | "
          f"{'OTT-JAX':>10} {'its':>5} | {'xPOT':>6} {'xOTT':>6}")
    for d in [int(v) for v in args.dims.split(",")]:
        for n in [int(v) for v in args.sizes.split(",")]:
            x, y = problem(n, d, seed=n + d)
            eps = 0.05 * float(np.mean(np.sum((x[:500, None] - y[None, :500]) ** 2, -1)))
            row = {"n": n, "d": d, "eps": eps}
            for name, fn in [("morphogen", run_morphogen), ("pot", run_pot), ("ott", run_ott)]:
                guess = rate.get(name, 0.0) * n * n * 2  # the warm-up run doubles it
                too_big = name == "pot" and n * n * 8 * 4 > 8e9
                if guess > args.budget or too_big:
                    row[name] = None
                    continue
                try:
                    row[name] = fn(x, y, eps)
                    rate[name] = row[name]["seconds"] / (n * n)
                except Exception as e:  # a peer that cannot run this size is reported, not fatal
                    row[name] = {"error": str(e).splitlines()[0][:80]}
            rows.append(row)
            fmt = lambda r: ("-", "-") if not r or "seconds" not in r else (f"{r['seconds']:.3f}s", str(r["iterations"]))
            ratio = lambda r: f"{r['seconds'] / row['morphogen']['seconds']:.2f}x" if r and "seconds" in r and row.get("morphogen") else "-"
            m, pt, ot_ = fmt(row["morphogen"]), fmt(row["pot"]), fmt(row["ott"])
            print(f"{n:>7} {d:>3} | {m[0]:>10} {m[1]:>5} | {pt[0]:>10} {pt[1]:>5} | "
                  f"{ot_[0]:>10} {ot_[1]:>5} | {ratio(row['pot']):>6} {ratio(row['ott']):>6}")
    print("xPOT, xOTT: the peer's time / morphogen's (above 1: morphogen faster).")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
