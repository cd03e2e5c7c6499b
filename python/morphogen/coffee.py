"""The Coffee Automaton (Aaronson, Carroll, Ouellette 2014) on the GPU: cream mixing into
coffee in a closed box, its entropy estimated by the compressed size of the state and its
apparent complexity by the compressed size of a coarse-grained state.

    import morphogen
    a = morphogen.coffee.Automaton("interacting", size=100, replicas=8, seed=1)
    curves = a.run()                      # the authors' run length and sampling
    curves["step"], curves["entropy"], curves["complexity"], curves["profile"]

The interacting model swaps one pair of differing neighbours per step (the paper's time
counts successful swaps; ``curves["attempts"]`` counts every draw); the non-interacting
model moves every cream particle at once. Replicas run side by side, each with its own
random stream; curves are their means, with standard errors in ``*_se``.
"""

import numpy as np

from . import _core
from ._arrays import context_or_default, progress_callback

MODELS = ("interacting", "noninteracting")


def reference_schedule(model, size):
    """The authors' run: (sample interval, last step) for ``model`` on a size x size grid,
    four times their fitted mixing time (42,476,000 swaps for an interacting n = 100)."""
    if model not in MODELS:
        raise ValueError(f"model={model!r}: use one of {', '.join(MODELS)}")
    return _core.coffee_schedule(model, int(size))


class Automaton:
    """``replicas`` independent ``size`` x ``size`` grids of ``model`` on the GPU, top half
    cream. ``grain``: the coarse-graining window's side (odd; default round(sqrt(n)),
    minus one if even); ``adjust``: ``"rowwise"`` (the authors' code) or ``"cellwise"``
    (the paper's words); ``boundary``: ``"closed"`` or ``"periodic"``."""

    def __init__(self, model="interacting", size=100, replicas=1, seed=0, *, grain=None,
                 adjust="rowwise", boundary="closed", context=None, _inner=None):
        if _inner is not None:
            self._inner = _inner
            return
        if model not in MODELS:
            raise ValueError(f"model={model!r}: use one of {', '.join(MODELS)}")
        self._inner = _core.Coffee(context_or_default(context), model, int(size),
                                   int(replicas), None if grain is None else int(grain),
                                   adjust, boundary, int(seed))

    @classmethod
    def resume(cls, path, context=None):
        """Continues from a checkpoint file, with the samples it recorded."""
        return cls(_inner=_core.Coffee.resume(context_or_default(context), str(path)))

    def run(self, steps=None, samples=None, progress=None):
        """Runs from the current step, sampling at ``0, interval, 2 interval, ...`` up to
        the last step. Without ``steps``: the authors' run length and interval; with it,
        at most ``samples`` samples (default 401) spread evenly over ``steps`` steps.
        Returns this call's samples as a dict of arrays: step, attempts, entropy,
        complexity, adjusted_complexity (bytes, means over replicas), their ``*_se``, and
        profile (samples x n: mean cream per cell in each row)."""
        config = self._inner.config
        interval, end = _core.coffee_schedule(
            config["model"], config["size"], None if steps is None else int(steps),
            None if samples is None else int(samples))
        return self._inner.run(interval, end, progress_callback(progress, "coffee"))

    def history(self):
        """Every sample recorded so far, as :meth:`run` returns them."""
        return self._inner.history()

    def advance(self, step):
        """Advances every replica to ``step`` without sampling."""
        self._inner.advance(int(step))

    def grids(self):
        """The fine, coarse (3 buckets) and adjusted (7 buckets) states of every replica:
        a dict of (replicas, n, n) uint8 arrays."""
        return self._inner.grids()

    def state(self):
        """Every replica's cells ((replicas, n, n) uint32: 0/1, or particles per cell) and
        its clocks (``swaps``, ``attempts``)."""
        return self._inner.state()

    def save_checkpoint(self, path):
        """Writes the replicas and the samples so far (safetensors), whole or not at all."""
        self._inner.save_checkpoint(str(path))

    @property
    def step(self):
        """The step every replica has reached (swaps for the interacting model)."""
        return self._inner.step

    @property
    def config(self):
        """model, size, replicas, grain, adjust, boundary, seed."""
        return self._inner.config


def coarse_grain(cells, model="interacting", grain=None, adjust="rowwise"):
    """Coarse-grains one n x n grid on the CPU exactly as a run does on the GPU: returns
    ``coarse`` (3 buckets: window average <= 1/3, <= 2/3, above), ``buckets`` (7 buckets)
    and ``adjusted``, each (n, n) uint8."""
    cells = np.ascontiguousarray(cells, dtype=np.uint32)
    if cells.ndim != 2:
        raise ValueError(f"cells: expected an n x n grid, got shape {cells.shape}")
    return _core.coffee_coarse_grain(cells, model, None if grain is None else int(grain), adjust)
