"""Particles through learned velocity fields, integrated inside the GPU's shaders: fixed
and per-particle adaptive ODE solvers and log-densities. Fields come from safetensors
files (TorchCFM's layout needs no spec) or straight from a PyTorch ``state_dict``."""

import json

import numpy as np

from . import _core
from ._arrays import context_or_default, floats, progress_callback

_SOLVERS = ("euler", "midpoint", "heun", "rk4", "dopri5", "tsit5")


class VelocityField:
    """A network v(x, t) (or a score, growth or potential network) that the integrator
    evaluates in its shaders."""

    def __init__(self, inner):
        self._inner = inner

    @classmethod
    def load(cls, path, spec=None):
        """Loads ``path`` (safetensors) with the JSON ``spec`` file beside it, or, without
        one, TorchCFM's ``MLP`` layout (keys ``net.K.weight|bias``, SELU, input [x, t])."""
        return cls(_core.VelocityField.load(str(path), None if spec is None else str(spec)))

    @classmethod
    def from_state_dict(cls, state_dict, spec=None):
        """From a mapping of tensor name to array, e.g.
        ``{k: v.detach().numpy() for k, v in model.state_dict().items()}``; ``spec`` is a
        dict (or JSON text) as the export script writes, or None for TorchCFM's layout."""
        tensors = [(str(k), floats(str(k), v, None)) for k, v in state_dict.items()]
        if isinstance(spec, dict):
            spec = json.dumps(spec)
        return cls(_core.VelocityField.from_tensors(tensors, spec))

    @classmethod
    def linear(cls, a, b):
        """v(x) = A x + b, with A a d x d matrix."""
        a = np.asarray(a, dtype=np.float32)
        return cls(_core.VelocityField.linear(a.ravel().tolist(), np.asarray(b, np.float32).tolist()))

    @property
    def dim(self):
        """The state dimension d."""
        return self._inner.dim

    def __repr__(self):
        return repr(self._inner)


def integrate(field, x0, *, t0=0.0, t1=1.0, solver="tsit5", rtol=1e-5, atol=1e-5, steps=100,
              save_at=None, logp=None, seed=0, cond=None, population=None, max_steps=10_000,
              progress=None, context=None, reference=False):
    """Integrates the particles ``x0`` (N x d) from ``t0`` to ``t1``.

    Adaptive solvers (``dopri5``, ``tsit5``) take per-particle steps to ``rtol``/``atol``;
    fixed ones (``euler``, ``midpoint``, ``heun``, ``rk4``) take ``steps`` steps. Returns a
    dict: ``times`` (T), ``states`` (T x N x d at ``save_at``, default [t1]), ``logp``
    (T x N change of log-density with ``logp="exact"|"hutchinson"|"central"``, else
    None), ``evaluations`` (per particle) and ``capped`` (particles that hit
    ``max_steps``). ``reference=True`` runs the engine's f64 CPU twin instead (the same
    equations and step control in plain loops), to check the GPU against. ``progress``: a
    callable ``(finished, total)`` in particles, called after every round of dispatches,
    or True for a tqdm bar; Ctrl-C stops the run there.
    """
    if not isinstance(field, VelocityField):
        raise TypeError(f"field: expected a morphogen.flow.VelocityField, got {type(field).__name__}")
    if solver not in _SOLVERS:
        raise ValueError(f"solver={solver!r}: use one of {', '.join(_SOLVERS)}")
    x0 = floats("x0", x0, 2)
    if x0.shape[1] != field.dim:
        raise ValueError(f"x0: dimension {x0.shape[1]}, the field's is {field.dim}")
    cond = floats("cond", cond, 2, allow_none=True)
    if population is not None:
        population = np.ascontiguousarray(population, dtype=np.uint32)
        if population.shape != (x0.shape[0],):
            raise ValueError(f"population: one index per particle, got shape {population.shape}")
    settings = {
        "t0": float(t0), "t1": float(t1), "solver": solver, "rtol": float(rtol),
        "atol": float(atol), "steps": int(steps),
        "save_at": None if save_at is None else [float(t) for t in save_at],
        "logp": logp, "seed": int(seed), "max_steps": int(max_steps),
    }
    return _core.flow_integrate(context_or_default(context), field._inner, x0, cond,
                                population, settings, bool(reference),
                                progress_callback(progress, "flow"))


from . import sde  # noqa: E402  (sde builds on VelocityField above)
