"""Times POT and OTT-JAX on one transport problem, for benches/transport.rs.

    python sinkhorn_peers.py X.npy Y.npy EPS --tol 1e-3 --iters 20 [--anderson M] [--skip-pot] [--skip-ott]

Both solve the balanced problem between uniform weights with the squared Euclidean cost
at the given absolute epsilon, from zero potentials, as morphogen does. Prints one JSON
object: for each peer the seconds per iteration (a fixed number of iterations, no early
stop), and the seconds and iterations to reach the tolerance:
  - OTT-JAX: L1 marginal error (norm_error=1), checked every 10 iterations, jit-compiled
    (the compile run is not timed);
  - POT sinkhorn_log: its own criterion, the L2 norm of the column marginal error,
    checked every 10 iterations (looser than L1).
"""

import argparse
import json
import time

import numpy as np


def time_pot(x, y, eps, tol, iters):
    import ot

    a = np.full(len(x), 1.0 / len(x))
    b = np.full(len(y), 1.0 / len(y))
    start = time.perf_counter()
    M = ot.dist(x, y)
    build = time.perf_counter() - start
    start = time.perf_counter()
    ot.bregman.sinkhorn_log(a, b, M, eps, numItermax=iters, stopThr=0.0, warn=False)
    per_iter = (time.perf_counter() - start) / iters
    start = time.perf_counter()
    _, log = ot.bregman.sinkhorn_log(a, b, M, eps, numItermax=100000, stopThr=tol, log=True, warn=False)
    to_tol = time.perf_counter() - start + build
    return {"per_iter_s": per_iter, "to_tol_s": to_tol, "iterations": int(log["niter"]), "criterion": "L2 column marginal"}


def time_ott(x, y, eps, tol, iters, anderson):
    import jax
    import jax.numpy as jnp
    from ott.geometry import pointcloud
    from ott.problems.linear import linear_problem
    from ott.solvers.linear import acceleration, sinkhorn

    n = len(x)
    # Beyond ~20k points the n x m matrix no longer fits comfortably: online mode.
    batch = 1024 if n * len(y) > 20000 * 20000 else None
    geom = pointcloud.PointCloud(jnp.asarray(x), jnp.asarray(y), epsilon=eps, batch_size=batch)
    prob = linear_problem.LinearProblem(geom)

    def run(threshold, max_iterations, memory=None):
        extra = {}
        if memory:
            extra["anderson"] = acceleration.AndersonAcceleration(memory=memory, ridge_identity=1e-4)
        solver = sinkhorn.Sinkhorn(threshold=threshold, max_iterations=max_iterations, norm_error=1, inner_iterations=10, min_iterations=0, **extra)
        fn = jax.jit(solver)
        jax.block_until_ready(fn(prob).f)  # compile
        start = time.perf_counter()
        out = fn(prob)
        jax.block_until_ready(out.f)
        return time.perf_counter() - start, out

    fixed, _ = run(-1.0, iters)
    to_tol, out = run(tol, 100000)
    its = int(np.sum(np.asarray(out.errors) > -1) * 10)
    result = {"per_iter_s": fixed / iters, "to_tol_s": to_tol, "iterations": its, "converged": bool(out.converged), "criterion": "L1 marginal", "online": batch is not None}
    if anderson:
        secs, out = run(tol, 100000, anderson)
        result["anderson_to_tol_s"] = secs
        result["anderson_iterations"] = int(np.sum(np.asarray(out.errors) > -1) * 10)
        result["anderson_converged"] = bool(out.converged)
    return result


def main():
    p = argparse.ArgumentParser()
    p.add_argument("x")
    p.add_argument("y")
    p.add_argument("eps", type=float)
    p.add_argument("--tol", type=float, default=1e-3)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--anderson", type=int, default=0)
    p.add_argument("--skip-pot", action="store_true")
    p.add_argument("--skip-ott", action="store_true")
    args = p.parse_args()
    x = np.load(args.x).astype(np.float64)
    y = np.load(args.y).astype(np.float64)
    result = {}
    if not args.skip_pot:
        result["pot"] = time_pot(x, y, args.eps, args.tol, args.iters)
    if not args.skip_ott:
        result["ott"] = time_ott(x.astype(np.float32), y.astype(np.float32), args.eps, args.tol, args.iters, args.anderson)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
