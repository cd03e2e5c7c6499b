"""Times TorchCFM's 2-D training loop on the CPU, as a peer for morphogen's flow benchmark.

    python benches/peers/torchcfm_train.py --method {icfm,otcfm,sbcfm} --batch B --steps K \
        --warmup W --threads T [--sigma 0.01] [--seed 0] [--pairing-only]

Install the peer first: see torchcfm_requirements.txt (CPU use of PyPI's torch wheel).

One training step is what TorchCFM's 2-D tutorial does per iteration, built from the
library's own pieces: draw B source points (torchcfm.utils.sample_8gaussians) and B target
points (sample_moons), call sample_location_and_conditional_flow(x0, x1) of
ConditionalFlowMatcher(sigma) (icfm), ExactOptimalTransportConditionalFlowMatcher(sigma)
(otcfm: an exact B x B OT plan from POT's network simplex, ot.emd, then B pairs drawn from
it) or SchrodingerBridgeConditionalFlowMatcher(sigma, ot_method="sinkhorn") (sbcfm: POT's
Sinkhorn with reg = 2 sigma^2, then B pairs drawn from the plan; at the 2-D task's costs
that kernel underflows for sigma up to ~1 and TorchCFM reverts to the uniform plan with a
warning, so the benchmark does not call it), regress MLP(dim=2, time_varying=True, w=64) on [xt, t] to ut with the mean squared
error, and take one Adam step (lr 1e-3). W untimed warm-up steps come first; then K steps
are timed as a whole with time.perf_counter. torch runs on T intra-op threads; POT's
solver keeps TorchCFM's default of one thread.

--pairing-only (otcfm only) times just the OT pairing instead: K calls of TorchCFM's
OTPlanSampler.sample_plan on fresh B x B batches (cost matrix, ot.emd, drawing B pairs
from the plan, gathering them); drawing the batches themselves is not timed.

Prints one line of JSON on stdout: peer, method, batch, steps, seconds, steps_per_second,
final_loss (mean loss of the last min(100, K) timed steps; null with --pairing-only),
versions, threads, and "what" ("train" or "pairing").
"""

import argparse
import json
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", choices=["icfm", "otcfm", "sbcfm"], required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--sigma", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pairing-only", action="store_true")
    args = p.parse_args()
    if args.pairing_only and args.method != "otcfm":
        p.error("--pairing-only needs --method otcfm (icfm does no pairing)")
    if args.batch < 1 or args.steps < 1 or args.warmup < 0 or args.threads < 1:
        p.error("--batch, --steps and --threads must be positive, --warmup non-negative")
    return args


def main():
    args = parse_args()

    import numpy as np
    import ot
    import torch
    import torchcfm
    from torchcfm.conditional_flow_matching import (
        ConditionalFlowMatcher,
        ExactOptimalTransportConditionalFlowMatcher,
        SchrodingerBridgeConditionalFlowMatcher,
    )
    from torchcfm.models.models import MLP
    from torchcfm.utils import sample_8gaussians, sample_moons

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)  # sample_moons and the OT plan sampler draw from numpy

    if args.method == "icfm":
        matcher = ConditionalFlowMatcher(sigma=args.sigma)
    elif args.method == "sbcfm":
        matcher = SchrodingerBridgeConditionalFlowMatcher(sigma=args.sigma, ot_method="sinkhorn")
    else:
        matcher = ExactOptimalTransportConditionalFlowMatcher(sigma=args.sigma)

    losses = []
    if args.pairing_only:
        pair = matcher.ot_sampler.sample_plan

        def run(n, record):
            spent = 0.0
            for _ in range(n):
                x0, x1 = sample_8gaussians(args.batch), sample_moons(args.batch)
                start = time.perf_counter()
                pair(x0, x1)
                spent += time.perf_counter() - start
            return spent

    else:
        model = MLP(dim=2, time_varying=True, w=64)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step():
            optimizer.zero_grad()
            x0 = sample_8gaussians(args.batch)
            x1 = sample_moons(args.batch)
            t, xt, ut = matcher.sample_location_and_conditional_flow(x0, x1)
            vt = model(torch.cat([xt, t[:, None]], dim=-1))
            loss = torch.mean((vt - ut) ** 2)
            loss.backward()
            optimizer.step()
            return loss.item()

        def run(n, record):
            start = time.perf_counter()
            for _ in range(n):
                loss = step()
                if record:
                    losses.append(loss)
            return time.perf_counter() - start

    run(args.warmup, record=False)
    seconds = run(args.steps, record=True)

    tail = losses[-min(100, len(losses)):]
    result = {
        "peer": "torchcfm",
        "what": "pairing" if args.pairing_only else "train",
        "method": args.method,
        "batch": args.batch,
        "steps": args.steps,
        "seconds": seconds,
        "steps_per_second": args.steps / seconds if seconds > 0 else None,
        "final_loss": sum(tail) / len(tail) if tail else None,
        "versions": {
            "torch": torch.__version__,
            "torchcfm": torchcfm.__version__,
            "pot": ot.__version__,
            "numpy": np.__version__,
        },
        "threads": args.threads,
        "sigma": args.sigma,
        "seed": args.seed,
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
