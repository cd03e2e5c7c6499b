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


_SAMPLERS = ("8gaussians", "moons", "checkerboard", "normal")
_METHODS = ("icfm", "otcfm", "fm", "sbcfm", "uotfm")


def _endpoint(what, value):
    if isinstance(value, str):
        if value not in _SAMPLERS:
            raise ValueError(f"{what}={value!r}: use one of {', '.join(_SAMPLERS)} or an N x d array")
        return value, None
    return None, floats(what, value, 2)


class Trainer:
    """A flow-matching field trained on the GPU: batches drawn from ``source`` and
    ``target`` (TorchCFM's samplers by name, or N x d point clouds drawn with
    replacement), paired by ``method`` (``icfm``, ``otcfm`` with exact OT pairs, ``fm``
    from N(0, I), ``sbcfm`` and ``uotfm`` with pairs from entropic and unbalanced
    plans), TorchCFM's MLP (``width``, ``depth`` hidden layers, ``activation``) trained
    by Adam (AdamW with ``weight_decay``), ``models`` networks side by side (seeds
    seed..seed+models-1). ``score=True`` also trains a score network per model on the
    same batches (SF2M), for sampling by dx = (v + s) dt + sigma dW. A list of ``sigma``
    values trains one model per value in the same dispatches (a sweep). ``exact_pairing``:
    where otcfm's pairs are found (``auto``: on the host for a CPU adapter, else the GPU
    auction; ``device``; ``host``)."""

    def __init__(self, source="8gaussians", target="moons", *, method="otcfm", sigma=0.01,
                 batch=256, width=64, depth=3, activation="selu", time="last", residual=False,
                 lr=1e-3, weight_decay=0.0, seed=0, models=1, eps=None, tau=None,
                 sinkhorn_iters=100, score=False, exact_pairing="auto", context=None,
                 _inner=None):
        if _inner is not None:
            self._inner = _inner
            return
        if method not in _METHODS:
            raise ValueError(f"method={method!r}: use one of {', '.join(_METHODS)}")
        source_name, source_points = _endpoint("source", source)
        target_name, target_points = _endpoint("target", target)
        sweep = None
        if np.ndim(sigma) == 1:
            sweep = [float(v) for v in np.asarray(sigma, dtype=np.float64)]
            if not sweep:
                raise ValueError("sigma=[]: give a number or one value per model")
            sigma = sweep[0]
        settings = {
            "method": method, "sigma": float(sigma), "batch": int(batch), "width": int(width),
            "depth": int(depth), "activation": str(activation), "time": str(time),
            "residual": bool(residual), "lr": float(lr), "weight_decay": float(weight_decay),
            "seed": int(seed), "models": int(models),
            "eps": None if eps is None else float(eps), "tau": None if tau is None else float(tau),
            "sinkhorn_iters": int(sinkhorn_iters), "score": bool(score),
            "exact_pairing": str(exact_pairing),
            "sigmas": sweep,
        }
        self._inner = _core.Trainer(context_or_default(context), json.dumps(settings),
                                    source_name, source_points, target_name, target_points)

    @classmethod
    def resume(cls, path, context=None):
        """Continues a run from its checkpoint (it then takes the steps the saved run
        would have taken next)."""
        return cls(_inner=_core.Trainer.resume(context_or_default(context), str(path)))

    def train(self, steps, progress=None):
        """Takes ``steps`` optimiser steps; returns their losses (steps x networks: each
        model, then each score network).
        ``progress``: a callable ``(done, total)`` or True for a tqdm bar; Ctrl-C stops."""
        if int(steps) < 0:
            raise ValueError(f"steps={steps}: must be >= 0")
        return self._inner.train(int(steps), progress_callback(progress, "train"))

    def losses(self):
        """Every step's loss so far (steps x networks)."""
        return self._inner.losses()

    def parameters(self):
        """The parameters (networks x P: the models, then their score networks): each
        layer's weight (out x in) then its bias."""
        return self._inner.parameters()

    def field(self, model=0):
        """Model ``model`` as a VelocityField for ``integrate``."""
        return VelocityField(self._inner.field(int(model)))

    def score_field(self, model=0):
        """Model ``model``'s score network (``score=True``), for ``sde.Branch(v, score=s)``."""
        return VelocityField(self._inner.score_field(int(model)))

    def save(self, weights, spec, model=0, score=False):
        """Writes the model (or with ``score=True`` its score network) in TorchCFM's
        layout (``MLP.load_state_dict`` takes it) and its JSON spec
        (``VelocityField.load`` and ``morphogen flow`` take both)."""
        self._inner.save(int(model), str(weights), str(spec), bool(score))

    def save_checkpoint(self, path):
        """Writes the run's state (safetensors), whole or not at all."""
        self._inner.save_checkpoint(str(path))

    def evaluate(self, samples=1000, model=0):
        """Dopri5 samples from held-out source points and their squared W2 to as many
        held-out target points: a dict with ``w2_squared``, ``evaluations_per_particle``
        and ``samples`` (N x d)."""
        return self._inner.evaluate(int(model), int(samples))

    @property
    def step(self):
        return self._inner.step


from . import sde  # noqa: E402  (sde builds on VelocityField above)
