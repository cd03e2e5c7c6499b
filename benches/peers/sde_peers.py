"""Times diffrax's SDE solvers on the same drift network and particles as benches/flow_sde.rs.

    python sde_peers.py MODEL.safetensors MODEL.json X0.npy --solver euler|sra1 \
        --sigma S --steps K [--growth G.safetensors G.json]

dx = v(x, t) dt + sigma dW on [0, 1] with K fixed steps, vmapped over the particles and
jit-compiled (the compile run is not timed). With a growth head the state carries
log w, d log w/dt = g(x, t). Prints one JSON object: seconds, particle-steps per second,
and the mean and variance of the final states (and of log w) for a statistical
comparison, since the Brownian paths differ between the two programs.
"""

import argparse
import json
import time

import jax
import lineax
import diffrax
import jax.numpy as jnp
import numpy as np
from safetensors.numpy import load_file

from flow_peers import build


def main():
    p = argparse.ArgumentParser()
    p.add_argument("weights")
    p.add_argument("spec")
    p.add_argument("x0")
    p.add_argument("--solver", default="sra1")
    p.add_argument("--sigma", type=float, default=0.5)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--growth", nargs=2, default=None)
    args = p.parse_args()
    x0 = jnp.asarray(np.load(args.x0), jnp.float32)
    n, d = x0.shape
    v = build(args.weights, args.spec, jnp.float32)
    g = build(args.growth[0], args.growth[1], jnp.float32) if args.growth else None
    width = d + (1 if g else 0)

    def drift(t, y, _):
        x = y[:d]
        out = v(t, x, None)
        if g is not None:
            out = jnp.concatenate([out, g(t, x, None)])
        return out

    def diffusion(t, y, _):
        scale = jnp.full((width,), args.sigma, jnp.float32)
        if g is not None:
            scale = scale.at[d].set(0.0)
        return lineax.DiagonalLinearOperator(scale)

    solver = {"euler": diffrax.Euler(), "sra1": diffrax.SRA1()}[args.solver]
    levy = diffrax.SpaceTimeLevyArea if args.solver == "sra1" else diffrax.BrownianIncrement
    dt = 1.0 / args.steps

    def one(y0, key):
        bm = diffrax.UnsafeBrownianPath(shape=(width,), key=key, levy_area=levy)
        terms = diffrax.MultiTerm(diffrax.ODETerm(drift), diffrax.ControlTerm(diffusion, bm))
        sol = diffrax.diffeqsolve(terms, solver, t0=0.0, t1=1.0, dt0=dt, y0=y0, max_steps=args.steps + 1,
                                   adjoint=diffrax.ForwardMode())
        return sol.ys[-1]

    run = jax.jit(jax.vmap(one))
    y0 = jnp.concatenate([x0, jnp.zeros((n, 1), jnp.float32)], axis=1) if g else x0
    keys = jax.random.split(jax.random.PRNGKey(0), n)
    run(y0, keys).block_until_ready()
    start = time.perf_counter()
    ys = run(y0, jax.random.split(jax.random.PRNGKey(1), n)).block_until_ready()
    seconds = time.perf_counter() - start
    ys = np.asarray(ys, np.float64)
    print(json.dumps({
        "seconds": seconds,
        "particle_steps_per_s": n * args.steps / seconds,
        "mean": ys.mean(axis=0).tolist(),
        "var": ys.var(axis=0, ddof=1).tolist(),
    }))


if __name__ == "__main__":
    main()
