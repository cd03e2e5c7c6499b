"""Steps per second of the reference Biomaker CA (JAX) on this machine, for the biome
benchmark. It needs a checkout of google-research/self-organising-systems at tag
biomaker-v1.0.0 and its Python dependencies at their current releases (jax, flax,
evojax; see benches/peers/biomaker_requirements.txt); nothing of it is shipped with
morphogen.

    python benches/peers/biomaker_reference.py --reference PATH [--height 72 --width 128]
                                               [--worlds W] [--chunk 50]

PATH is the checkout's root (the folder holding `self_organising_systems/`). The run uses
the persistence preset, extended BasicAgentLogic programs in 128 slots, reproduction with
BasicMutator(sd=1e-3, change_perc=0.2), as the reference's notebooks do, and times steps
as the notebooks run them: `--chunk` steps inside one jitted `lax.fori_loop` per call.
With `--worlds W` the loop is vmapped over W independent worlds (their own keys and
programs) and the rate is world-steps per second. It warms up (compilation, then plant
growth for at most --warmup steps or --seconds), then times whole chunks for --seconds
(at least one). Prints one JSON line with the versions it ran with.
"""

import argparse
import json
import platform
import sys
import time
from functools import partial


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True)
    ap.add_argument("--height", type=int, default=72)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--worlds", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    sys.path.insert(0, args.reference)

    import jax
    import jax.numpy as jp
    import jax.random as jr
    from jax import vmap
    from self_organising_systems.biomakerca import environments as evm
    from self_organising_systems.biomakerca.agent_logic import BasicAgentLogic
    from self_organising_systems.biomakerca.mutators import BasicMutator
    from self_organising_systems.biomakerca.step_maker import step_env

    env, config = evm.get_env_and_config("persistence", width_type=args.width, h=args.height)
    logic = BasicAgentLogic(config, minimal_net=False)
    mutator = BasicMutator(sd=1e-3, change_perc=0.2)

    def fresh_programs(key):
        k1, k2 = jr.split(key)
        programs = vmap(logic.initialize)(jr.split(k1, 128))
        return vmap(mutator.initialize)(jr.split(k2, 128), programs)

    def chunk(key, env, programs, n):
        def body(_, carry):
            key, env, programs = carry
            key, ku = jr.split(key)
            env, programs = step_env(ku, env, config, logic, programs, do_reproduction=True,
                                     mutate_programs=True, mutator=mutator)
            return key, env, programs
        return jax.lax.fori_loop(0, n, body, (key, env, programs))

    w = args.worlds
    keys = jr.split(jr.PRNGKey(args.seed), w + 1)
    key, world_keys = keys[0], keys[1:]
    programs = vmap(fresh_programs)(jr.split(key, w))
    envs = jax.tree_util.tree_map(lambda x: jp.repeat(x[None], w, axis=0), env)
    run = jax.jit(vmap(partial(chunk, n=args.chunk)))

    # Warm up: the first call compiles; then plants grow for at most --warmup steps.
    warm = time.perf_counter()
    done = 0
    while done == 0 or (done < args.warmup and time.perf_counter() - warm < args.seconds):
        world_keys, envs, programs = run(world_keys, envs, programs)
        jax.block_until_ready(envs)
        done += args.chunk
    agents = int(((envs.type_grid >= 6) & (envs.type_grid <= 9)).sum()) // w
    steps = 0
    start = time.perf_counter()
    while steps == 0 or time.perf_counter() - start < args.seconds:
        world_keys, envs, programs = run(world_keys, envs, programs)
        jax.block_until_ready(envs)
        steps += args.chunk
    elapsed = time.perf_counter() - start

    def version(name):
        try:
            from importlib.metadata import version as v
            return v(name)
        except Exception:
            return None

    print(json.dumps({
        "height": args.height, "width": args.width, "worlds": w, "chunk": args.chunk,
        "steps": steps, "seconds": elapsed, "steps_per_s": steps / elapsed,
        "world_steps_per_s": w * steps / elapsed, "agents_after_warmup": agents,
        "jax": jax.__version__, "jaxlib": version("jaxlib"), "flax": version("flax"),
        "evojax": version("evojax"), "numpy": version("numpy"),
        "python": platform.python_version(), "device": str(jax.devices()[0]),
    }))


if __name__ == "__main__":
    main()
