"""Times diffrax on the same network and particles as benches/flow.rs.

    python flow_peers.py MODEL.safetensors MODEL.json X0.npy --solver tsit5|dopri5 \
        --rtol R --atol A [--reference-count K]

Prints one JSON object: seconds of the jit-compiled solve (the compile run is not
timed), mean steps and network evaluations per particle, and for the first K particles
the states at t = 1 from a tight float64 solve (rtol = atol = 1e-10), which
benches/flow.rs uses as the reference for both.
"""

import argparse
import json
import time

import jax

jax.config.update("jax_enable_x64", True)

import diffrax
import jax.numpy as jnp
import numpy as np
from safetensors.numpy import load_file

ACTIVATIONS = {
    "selu": jax.nn.selu,
    "elu": jax.nn.elu,
    "silu": jax.nn.silu,
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "gelu": lambda x: jax.nn.gelu(x, approximate=False),
    "softplus": jax.nn.softplus,
    "identity": lambda x: x,
}


def build(weights_path, spec_path, dtype):
    spec = json.load(open(spec_path))
    tensors = load_file(weights_path)
    layers = [(jnp.asarray(tensors[w], dtype), jnp.asarray(tensors[b], dtype)) for w, b in spec["layers"]]
    act = ACTIVATIONS[spec["activation"]]
    out_act = ACTIVATIONS[spec.get("output_activation", "identity")]

    def field(t, x, args):
        t_in = jnp.array([t * spec.get("time_scale", 1.0)], dtype)
        h = jnp.concatenate([x, t_in]) if spec.get("time", "last") == "last" else jnp.concatenate([t_in, x])
        for i, (w, b) in enumerate(layers):
            h = w @ h + b
            h = act(h) if i < len(layers) - 1 else out_act(h)
        return h

    return field


def solve(field, solver, rtol, atol):
    stepper = {"tsit5": diffrax.Tsit5(), "dopri5": diffrax.Dopri5()}[solver]

    def one(y0):
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(field), stepper, t0=0.0, t1=1.0, dt0=None, y0=y0,
            stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
            max_steps=100000,
        )
        return sol.ys[-1], sol.stats["num_steps"], sol.stats["num_rejected_steps"]

    return jax.jit(jax.vmap(one))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("weights")
    p.add_argument("spec")
    p.add_argument("x0")
    p.add_argument("--solver", default="tsit5")
    p.add_argument("--rtol", type=float, default=1e-5)
    p.add_argument("--atol", type=float, default=1e-5)
    p.add_argument("--reference-count", type=int, default=256)
    args = p.parse_args()
    x0 = np.load(args.x0)
    field = build(args.weights, args.spec, jnp.float32)
    run = solve(field, args.solver, args.rtol, args.atol)
    xs = jnp.asarray(x0, jnp.float32)
    jax.block_until_ready(run(xs))
    start = time.perf_counter()
    ys, steps, rejected = run(xs)
    jax.block_until_ready(ys)
    seconds = time.perf_counter() - start
    k = min(args.reference_count, len(x0))
    field64 = build(args.weights, args.spec, jnp.float64)
    tight = solve(field64, "tsit5", 1e-10, 1e-10)(jnp.asarray(x0[:k], jnp.float64))[0]
    stages = 6  # FSAL: six new evaluations per step attempt
    print(json.dumps({
        "seconds": seconds,
        "steps_per_particle": float(np.mean(np.asarray(steps))),
        "evaluations_per_particle": float(np.mean(np.asarray(steps) * stages + 1)),
        "states": np.asarray(ys[:k], np.float64).tolist(),
        "reference": np.asarray(tight).tolist(),
        "diffrax": diffrax.__version__,
    }))


if __name__ == "__main__":
    main()
