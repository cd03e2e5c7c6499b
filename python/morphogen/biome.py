"""The Biomaker CA on the GPU: plant-like organisms grow, compete and reproduce on a 2-D
grid, a faithful port of the reference's environment step, agent programs and mutation."""

import numpy as np

from . import _core
from ._arrays import context_or_default, progress_callback

PRESETS = ("persistence", "pestilence", "collaboration", "sideways")


def _settings(preset, height, config, intercept_reproduction):
    """Checks a world's settings; returns the petri-dish energies as the core takes them."""
    if config is None and preset not in PRESETS:
        raise ValueError(f"preset={preset!r}: use one of {', '.join(PRESETS)}")
    if int(height) < 1:
        raise ValueError(f"height={height}: must be positive")
    if intercept_reproduction is None:
        return None
    e = np.broadcast_to(np.asarray(intercept_reproduction, dtype=float), (2,))
    return (float(e[0]), float(e[1]))


class _Batch:
    """What a world and a batch of worlds share: the core batch in ``_inner``."""

    def load_program(self, path):
        """Loads an agent program (``.npy`` of float32 parameters) into every slot (of
        every world)."""
        self._inner.load_program(str(path))

    @property
    def steps_done(self):
        return self._inner.steps_done

    @property
    def shape(self):
        """(height, width) of a world, in cells."""
        return self._inner.shape


class World(_Batch):
    """A world of ``preset`` (or a full configuration as TOML text in ``config``),
    ``height`` rows and ``width`` a name (wide, landscape, square, petri) or a number of
    columns, seeded by ``seed``. ``intercept_reproduction=e`` (a number, or one per
    nutrient) is the petri-dish mode: reproductions are counted (``intercepted`` in the
    census) instead of placing seeds, succeeding when the flower keeps ``e`` above the
    reproduce cost."""

    def __init__(self, preset="persistence", height=72, width="landscape", seed=0, *,
                 config=None, intercept_reproduction=None, context=None, _inner=None):
        if _inner is not None:
            self._inner = _inner
            return
        intercept = _settings(preset, height, config, intercept_reproduction)
        self._inner = _core.World(context_or_default(context), preset, int(height), str(width),
                                  [int(seed)], config, intercept)

    @classmethod
    def resume(cls, path, context=None):
        """Continues the world saved in a checkpoint file."""
        return cls(_inner=_core.World.resume(context_or_default(context), str(path)))

    def run(self, steps, census=True, progress=None):
        """Runs ``steps`` steps (Ctrl-C stops between batches). With ``census``, returns a
        dict of arrays, one entry per step: step, agents, unspecialized, root, leaf,
        flower, reproductions, seeds, living_ids, intercepted. ``progress``: a callable
        ``(done, total)`` called between batches, or True for a tqdm bar."""
        if int(steps) < 0:
            raise ValueError(f"steps={steps}: must be >= 0")
        rows = self._inner.run(int(steps), bool(census), progress_callback(progress, "biome"))
        return None if rows is None else {name: column[0] for name, column in rows.items()}

    def render(self, zoom=1):
        """The world as an (H * zoom, W * zoom, 3) uint8 image in the reference's palette."""
        return self._inner.render(0, int(zoom))

    def save_checkpoint(self, path):
        """Writes the world, its programs and its step (safetensors), whole or not at all."""
        self._inner.save_checkpoint(str(path), 0)



class Worlds(_Batch):
    """One world per seed in ``seeds``, all of one configuration (as ``World`` takes it),
    advancing together on the GPU: a seed sweep in one batch. Each world runs exactly as
    ``World`` with its seed runs alone. ``Worlds.max_batch(...)`` says how many fit."""

    def __init__(self, preset="persistence", height=72, width="landscape", seeds=(0,), *,
                 config=None, intercept_reproduction=None, context=None):
        seeds = [int(s) for s in seeds]
        if not seeds:
            raise ValueError("seeds: give at least one seed")
        intercept = _settings(preset, height, config, intercept_reproduction)
        self._inner = _core.World(context_or_default(context), preset, int(height), str(width),
                                  seeds, config, intercept)

    @staticmethod
    def max_batch(preset="persistence", height=72, width="landscape", *, config=None,
                  context=None):
        """The most worlds of this configuration one batch holds on the adapter."""
        return _core.World.max_batch(context_or_default(context), preset, int(height),
                                     str(width), config)

    def run(self, steps, census=True, progress=None):
        """Runs ``steps`` steps in every world. With ``census``, returns a dict of
        (worlds, steps) arrays (the columns of ``World.run``)."""
        if int(steps) < 0:
            raise ValueError(f"steps={steps}: must be >= 0")
        return self._inner.run(int(steps), bool(census), progress_callback(progress, "biome"))

    def render(self, world, zoom=1):
        """World ``world`` (an index into ``seeds``) as an (H * zoom, W * zoom, 3) uint8
        image."""
        return self._inner.render(int(world), int(zoom))

    def save_checkpoint(self, world, path):
        """Writes world ``world``'s checkpoint; ``World.resume`` continues it."""
        self._inner.save_checkpoint(str(path), int(world))

    @property
    def seeds(self):
        return self._inner.seeds



class Evolution:
    """Agent programs evolved by PGPE in petri dishes, as the reference's
    ``evolving_in_small_worlds`` notebook does: each of ``population`` candidates lives
    ``steps`` steps in its own dish (``preset``, ``height`` x ``width``, reproductions
    intercepted) and scores ``-|target_agents - agent cells| + reproduction_weight x
    successful reproductions`` per step, averaged. The dishes advance together in batches."""

    def __init__(self, preset="persistence", height=16, width="landscape", population=64,
                 steps=2000, target_agents=50.0, reproduction_weight=None, center_lr=0.001,
                 init_stdev=0.001, seed=0, *, context=None, _inner=None):
        if _inner is not None:
            self._inner = _inner
            return
        if preset not in PRESETS:
            raise ValueError(f"preset={preset!r}: use one of {', '.join(PRESETS)}")
        weight = 4.0 * float(target_agents) if reproduction_weight is None else float(reproduction_weight)
        self._inner = _core.Evolution(context_or_default(context), preset, int(height),
                                      str(width), int(population), int(steps),
                                      float(target_agents), weight, float(center_lr),
                                      float(init_stdev), int(seed))

    @classmethod
    def resume(cls, path, context=None):
        """Continues an evolution from its checkpoint file."""
        return cls(_inner=_core.Evolution.resume(context_or_default(context), str(path)))

    def run(self, generations, progress=None):
        """Runs ``generations`` more generations (Ctrl-C stops between batches of dishes); returns the
        fitness history: generation, best, mean."""
        if int(generations) < 0:
            raise ValueError(f"generations={generations}: must be >= 0")
        return self._inner.run(int(generations), progress_callback(progress, "evolve"))

    def history(self):
        """The fitness of every generation so far: generation, best, mean."""
        return self._inner.history()

    def program(self):
        """The evolved program (PGPE's centre), float32: ``np.save`` it and load it with
        ``World.load_program``."""
        return self._inner.program()

    def save_checkpoint(self, path):
        """Writes the search state and the history (safetensors), whole or not at all."""
        self._inner.save_checkpoint(str(path))

    @property
    def generation(self):
        return self._inner.generation
