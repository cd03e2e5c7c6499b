"""Stochastic, weighted and branching particles (Schrödinger bridges, branched flows):
Euler–Maruyama or SRA1 steps with a velocity field and an optional score, growth heads
that weigh particles, several branches in one dispatch, resampling. Noise is keyed by
(seed, particle, step, branch), so a run is the same whatever the chunking."""

import numpy as np

from . import _core
from ._arrays import context_or_default, floats, progress_callback
from .flow import VelocityField


class Branch:
    """One branch: a velocity field, an optional score network (added as sigma²/2 ∇log p)
    and an optional growth head g(x, t) that changes the particles' weights."""

    def __init__(self, velocity, score=None, growth=None):
        for name, field in (("velocity", velocity), ("score", score), ("growth", growth)):
            if field is not None and not isinstance(field, VelocityField):
                raise TypeError(f"{name}: expected a morphogen.flow.VelocityField, got {type(field).__name__}")
        self.velocity, self.score, self.growth = velocity, score, growth


def simulate(branches, x0, *, t0=0.0, t1=1.0, solver="em", steps=100, save_at=None, sigma=0.1,
             bridge=False, growth="log", initial_weights=None, resample_below=None, seed=0,
             cond=None, population=None, progress=None, context=None):
    """Simulates the particles ``x0`` (N x d) through each branch (a :class:`Branch` or a
    VelocityField) from ``t0`` to ``t1`` in ``steps`` steps of ``solver`` ("em" or
    "sra1"), with noise sigma (sigma·sqrt(t(1−t)) with ``bridge=True``).

    Returns a dict: ``times`` (T), ``states`` (T x K x N x d), ``weights`` (T x K x N, or
    None without growth heads or several branches), ``mass`` and ``ess`` (T x K),
    ``resampled`` ((save index, branch) pairs) and ``steps``. ``progress``: a callable
    ``(done, total)`` in particle-steps, or True for a tqdm bar; Ctrl-C stops between save
    times.
    """
    if isinstance(branches, (Branch, VelocityField)):
        branches = [branches]
    branches = [b if isinstance(b, Branch) else Branch(b) for b in branches]
    if not branches:
        raise ValueError("branches: at least one branch is needed")
    x0 = floats("x0", x0, 2)
    cond = floats("cond", cond, 2, allow_none=True)
    if population is not None:
        population = np.ascontiguousarray(population, dtype=np.uint32)
    settings = {
        "t0": float(t0), "t1": float(t1), "solver": solver, "steps": int(steps),
        "save_at": None if save_at is None else [float(t) for t in save_at],
        "sigma": float(sigma), "bridge": bool(bridge), "growth": growth,
        "initial_weights": None if initial_weights is None else [float(w) for w in initial_weights],
        "resample_below": None if resample_below is None else float(resample_below),
        "seed": int(seed),
    }
    triples = [
        (b.velocity._inner, None if b.score is None else b.score._inner,
         None if b.growth is None else b.growth._inner)
        for b in branches
    ]
    return _core.sde_simulate(context_or_default(context), triples, x0, cond, population,
                              settings, progress_callback(progress, "sde"))
