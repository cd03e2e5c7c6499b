"""Export a PyTorch MLP to morphogen: weights as safetensors plus a JSON spec.

    python scripts/export_model.py CHECKPOINT OUT [options]

CHECKPOINT is a file torch.load reads: a state_dict, a Lightning checkpoint (its
"state_dict" entry), or a whole nn.Module. The linear layers are the 2-D "*.weight"
tensors with a matching "*.bias" under one parent (e.g. "net." in TorchCFM's MLP and
Meta's flow_matching nets, "model.net." in a Lightning checkpoint), ordered by their
index. Writes OUT.safetensors (float32, the original tensor names) and OUT.json.

Options describe what the state_dict cannot say:
  --time last|first|none   where t enters the input (TorchCFM: last, the default)
  --activation NAME        selu (TorchCFM's default), elu, silu, relu, tanh, gelu, softplus
  --output-activation NAME activation of the last layer (default identity)
  --time-scale S           t is multiplied by S before entering (default 1)
  --cond-dim K             a conditioning vector of K values follows x in the input
  --time-embedding K,P     sinusoidal embedding of width K and max period P instead of t
  --residual               hidden layers of equal width add their input
  --scalar                 the network gives one value s(x, t): a potential whose
                           gradient is the field (Action Matching) or a growth head
  --prefix P               the parent of the layers, if the guess is wrong
"""

import argparse
import json
import re
import sys
from collections import defaultdict

import torch
from safetensors.torch import save_file


def load_state_dict(path):
    obj = torch.load(path, map_location="cpu", weights_only=False)
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        return obj["state_dict"]
    if isinstance(obj, dict):
        return obj
    sys.exit(f"{path}: neither a state_dict, a Lightning checkpoint nor an nn.Module")


def find_layers(state, prefix):
    """(weight name, bias name) of each linear layer, in index order."""
    pattern = re.compile(r"^(.*?)(\d+)\.weight$")
    groups = defaultdict(list)
    for name, tensor in state.items():
        m = pattern.match(name)
        if m and tensor.dim() == 2 and f"{m.group(1)}{m.group(2)}.bias" in state:
            groups[m.group(1)].append(int(m.group(2)))
    if prefix is not None:
        if prefix not in groups:
            sys.exit(f"no linear layers under {prefix!r}; parents found: {sorted(groups)}")
        parent = prefix
    elif len(groups) == 1:
        parent = next(iter(groups))
    elif not groups:
        sys.exit("no linear layers (2-D 'K.weight' tensors with a 'K.bias') in the checkpoint")
    else:
        # The deepest stack is the network; say so, so a wrong guess can be corrected.
        parent = max(groups, key=lambda p: len(groups[p]))
        print(f"several layer stacks {sorted(groups)}; using {parent!r} (choose with --prefix)", file=sys.stderr)
    indices = sorted(groups[parent])
    return [(f"{parent}{k}.weight", f"{parent}{k}.bias") for k in indices]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("out")
    p.add_argument("--time", default="last", choices=["last", "first", "none"])
    p.add_argument("--activation", default="selu")
    p.add_argument("--output-activation", default="identity")
    p.add_argument("--time-scale", type=float, default=1.0)
    p.add_argument("--cond-dim", type=int, default=0)
    p.add_argument("--time-embedding", default=None)
    p.add_argument("--residual", action="store_true")
    p.add_argument("--scalar", action="store_true")
    p.add_argument("--prefix", default=None)
    args = p.parse_args()

    state = load_state_dict(args.checkpoint)
    layers = find_layers(state, args.prefix)
    tensors = {}
    for w, b in layers:
        tensors[w] = state[w].detach().to(torch.float32).contiguous()
        tensors[b] = state[b].detach().to(torch.float32).contiguous()
    dim = tensors[layers[-1][0]].shape[0]
    if args.scalar:
        # The state dimension is what remains of the input after c and t.
        if args.time == "none":
            time_width = 0
        elif args.time_embedding:
            time_width = int(args.time_embedding.split(",")[0])
        else:
            time_width = 1
        dim = tensors[layers[0][0]].shape[1] - args.cond_dim - time_width
    spec = {
        "dim": int(dim),
        "time": args.time,
        "time_scale": args.time_scale,
        "cond_dim": args.cond_dim,
        "residual": args.residual,
        "scalar": args.scalar,
        "activation": args.activation,
        "output_activation": args.output_activation,
        "layers": [[w, b] for w, b in layers],
    }
    if args.time_embedding:
        width, period = args.time_embedding.split(",")
        spec["time_embedding"] = [int(width), float(period)]
    save_file(tensors, f"{args.out}.safetensors")
    with open(f"{args.out}.json", "w") as f:
        json.dump(spec, f, indent=1)
        f.write("\n")
    sizes = [tensors[layers[0][0]].shape[1]] + [tensors[w].shape[0] for w, _ in layers]
    print(f"wrote {args.out}.safetensors and {args.out}.json: layers {sizes}, {args.activation}, t {args.time}")


if __name__ == "__main__":
    main()
