"""The Sinkhorn divergence as a loss: a cloud moved onto another by gradient descent on
S(x, y), the gradient from the converged potentials (morphogen computes it on the GPU).
With torch installed, the same loss is wrapped in a torch.autograd.Function, as GeomLoss
users write ``loss = SamplesLoss("sinkhorn")(x, y); loss.backward()``.

    pip install ./python
    python python/examples/divergence_descent.py
"""

import numpy as np

import morphogen

rng = np.random.default_rng(0)
x = rng.normal(size=(400, 2))
y = rng.normal(size=(500, 2)) * 0.5 + np.array([3.0, 1.0])

for step in range(41):
    out = morphogen.transport.sinkhorn_divergence(x, y, eps=0.05, grad=True)
    if step % 10 == 0:
        print(f"step {step:3d}: S = {out['value']:.4f}, mean {x.mean(0).round(3)}")
    # dS/dx_i carries the weight a_i = 1/n: step against n * grad (a Wasserstein step).
    x = x - 0.4 * len(x) * out["grad_x"]

try:
    import torch
except ImportError:
    torch = None

if torch is not None:

    class SinkhornDivergence(torch.autograd.Function):
        """S(x, y) with its gradients from morphogen (float32 on any GPU)."""

        @staticmethod
        def forward(ctx, x, y, eps):
            out = morphogen.transport.sinkhorn_divergence(x.detach(), y.detach(), eps=eps, grad=True)
            ctx.save_for_backward(torch.from_numpy(out["grad_x"]), torch.from_numpy(out["grad_y"]))
            return x.new_tensor(out["value"])

        @staticmethod
        def backward(ctx, grad_output):
            gx, gy = ctx.saved_tensors
            return grad_output * gx, grad_output * gy, None

    xt = torch.tensor(rng.normal(size=(400, 2)), dtype=torch.float32, requires_grad=True)
    yt = torch.tensor(y, dtype=torch.float32)
    loss = SinkhornDivergence.apply(xt, yt, 0.05)
    loss.backward()
    print(f"torch: S = {loss.item():.4f}, |dS/dx| = {xt.grad.norm().item():.4f}")
