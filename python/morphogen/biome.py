"""The Biomaker CA on the GPU: plant-like organisms grow, compete and reproduce on a 2-D
grid, a faithful port of the reference's environment step, agent programs and mutation."""

from . import _core
from ._arrays import context_or_default, progress_callback

PRESETS = ("persistence", "pestilence", "collaboration", "sideways")


class World:
    """A world of ``preset`` (or a full configuration as TOML text in ``config``),
    ``height`` rows and ``width`` a name (wide, landscape, square, petri) or a number of
    columns, seeded by ``seed``."""

    def __init__(self, preset="persistence", height=72, width="landscape", seed=0, *,
                 config=None, context=None, _inner=None):
        if _inner is not None:
            self._inner = _inner
            return
        if config is None and preset not in PRESETS:
            raise ValueError(f"preset={preset!r}: use one of {', '.join(PRESETS)}")
        if int(height) < 1:
            raise ValueError(f"height={height}: must be positive")
        self._inner = _core.World(context_or_default(context), preset, int(height), str(width),
                                  int(seed), config)

    @classmethod
    def resume(cls, path, context=None):
        """Continues the world saved in a checkpoint file."""
        return cls(_inner=_core.World.resume(context_or_default(context), str(path)))

    def run(self, steps, census=True, progress=None):
        """Runs ``steps`` steps (Ctrl-C stops between batches). With ``census``, returns a
        dict of arrays, one entry per step: step, agents, unspecialized, root, leaf,
        flower, reproductions, seeds, living_ids. ``progress``: a callable
        ``(done, total)`` called between batches, or True for a tqdm bar."""
        if int(steps) < 0:
            raise ValueError(f"steps={steps}: must be >= 0")
        return self._inner.run(int(steps), bool(census), progress_callback(progress, "biome"))

    def render(self, zoom=1):
        """The world as an (H * zoom, W * zoom, 3) uint8 image in the reference's palette."""
        return self._inner.render(int(zoom))

    def load_program(self, path):
        """Loads an agent program (``.npy`` of float32 parameters) into every slot."""
        self._inner.load_program(str(path))

    def save_checkpoint(self, path):
        """Writes the world, its programs and its step (safetensors), whole or not at all."""
        self._inner.save_checkpoint(str(path))

    @property
    def steps_done(self):
        return self._inner.steps_done

    @property
    def shape(self):
        """(height, width) in cells."""
        return self._inner.shape
