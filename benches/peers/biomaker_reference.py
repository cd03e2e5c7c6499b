"""Steps per second of the reference Biomaker CA (JAX) on this machine, for the biome
benchmark. It needs a checkout of google-research/self-organising-systems at tag
biomaker-v1.0.0 and its Python dependencies (jax, flax, evojax; see
benches/peers/biomaker_requirements.txt); nothing of it is shipped with morphogen.

    python benches/peers/biomaker_reference.py --reference PATH [--height 72 --width 128]

PATH is the checkout's root (the folder holding `self_organising_systems/`). The run uses
the persistence preset, extended BasicAgentLogic programs in 128 slots, reproduction with
BasicMutator(sd=1e-3, change_perc=0.2), as the reference's notebooks do; it warms up
(jit compilation, then plant growth for at most --warmup steps or --seconds), then times
whole steps for --seconds (at least one). Prints one JSON line.
"""

import argparse
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True)
    ap.add_argument("--height", type=int, default=72)
    ap.add_argument("--width", type=int, default=128)
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
    key = jr.PRNGKey(args.seed)
    ku, key = jr.split(key)
    programs = vmap(logic.initialize)(jr.split(ku, 128))
    ku, key = jr.split(key)
    programs = vmap(mutator.initialize)(jr.split(ku, 128), programs)

    def step(key, env, programs):
        return step_env(key, env, config, logic, programs, do_reproduction=True,
                        mutate_programs=True, mutator=mutator)

    # Warm up for at most --warmup steps or --seconds (the first step compiles).
    ku, key = jr.split(key)
    env, programs = step(ku, env, programs)
    jax.block_until_ready(env)
    warm = time.perf_counter()
    for _ in range(args.warmup - 1):
        if time.perf_counter() - warm > args.seconds:
            break
        ku, key = jr.split(key)
        env, programs = step(ku, env, programs)
        jax.block_until_ready(env)
    agents = int(((env.type_grid >= 6) & (env.type_grid <= 9)).sum())
    steps = 0
    start = time.perf_counter()
    while steps == 0 or time.perf_counter() - start < args.seconds:
        ku, key = jr.split(key)
        env, programs = step(ku, env, programs)
        jax.block_until_ready(env)
        steps += 1
    elapsed = time.perf_counter() - start
    print(json.dumps({
        "height": args.height, "width": args.width, "steps": steps, "seconds": elapsed,
        "steps_per_s": steps / elapsed, "agents_after_warmup": agents,
        "jax": jax.__version__, "device": str(jax.devices()[0]),
    }))


if __name__ == "__main__":
    main()
