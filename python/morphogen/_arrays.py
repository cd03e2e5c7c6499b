"""Argument handling shared by the modules: the default context, array conversion with
messages that name the argument, and the not-converged warning or error."""

import threading
import warnings

import numpy as np

from ._core import Context

_lock = threading.Lock()
_default = None


class NotConverged(UserWarning):
    """A solve stopped at its iteration cap before reaching its tolerance."""


class NotConvergedError(RuntimeError):
    """Raised instead of the :class:`NotConverged` warning with ``on_not_converged="raise"``."""


def default_context():
    """The context used when a call gives none: created on first use, on the adapter that
    ``MORPHOGEN_ADAPTER`` names or the best one found."""
    global _default
    with _lock:
        if _default is None:
            _default = Context()
        return _default


def set_default_context(context):
    """Makes ``context`` the default for calls that give none."""
    global _default
    if not isinstance(context, Context):
        raise TypeError(f"expected a morphogen.Context, got {type(context).__name__}")
    with _lock:
        _default = context


def context_or_default(context):
    if context is None:
        return default_context()
    if not isinstance(context, Context):
        raise TypeError(f"context: expected a morphogen.Context, got {type(context).__name__}")
    return context


def floats(name, value, ndim, allow_none=False):
    """``value`` as a C-ordered float32 array of ``ndim`` dimensions (any real dtype and
    layout is accepted and copied), with a ValueError naming ``name`` otherwise."""
    if value is None:
        if allow_none:
            return None
        raise ValueError(f"{name}: an array is required")
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
    ):
        raise ValueError(f"{name}: expected real numbers, got dtype {array.dtype}")
    if ndim is not None and array.ndim != ndim:
        shapes = {1: "(n,)", 2: "(n, d)", 3: "(batch, n, d)"}
        raise ValueError(
            f"{name}: expected a {ndim}-D array {shapes.get(ndim, '')}, got shape {array.shape}"
        )
    if array.size == 0:
        raise ValueError(f"{name}: the array is empty (shape {array.shape})")
    out = np.ascontiguousarray(array, dtype=np.float32)
    if not np.all(np.isfinite(out)):
        bad = np.argwhere(~np.isfinite(out))[0]
        raise ValueError(f"{name}: entry {tuple(int(i) for i in bad)} is not finite")
    return out


def check_converged(solutions, on_not_converged):
    if on_not_converged not in ("warn", "raise", "ignore"):
        raise ValueError(f'on_not_converged={on_not_converged!r}: use "warn", "raise" or "ignore"')
    missed = [s for s in solutions if not s.converged]
    if not missed or on_not_converged == "ignore":
        return
    s = missed[0]
    message = (
        f"{len(missed)} of {len(solutions)} solves did not reach the tolerance: "
        f"marginal error {s.marginal_error:.2e} after {s.iterations} iterations "
        "(raise max_iter, or use eps_scaling or anderson)"
    )
    if on_not_converged == "raise":
        raise NotConvergedError(message)
    warnings.warn(message, NotConverged, stacklevel=3)


def progress_callback(progress, what):
    """``progress`` as a callable ``(done, total)``: as given, a tqdm bar for True (when
    tqdm is installed), or None."""
    if progress is None or progress is False:
        return None
    if callable(progress):
        return progress
    if progress is True:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            warnings.warn("progress=True needs tqdm (pip install tqdm); running without a bar",
                          stacklevel=3)
            return None
        bar = tqdm(desc=what, unit=" steps")

        def update(done, total):
            bar.total = total
            bar.n = done
            bar.refresh()
            if done >= total:
                bar.close()

        return update
    raise TypeError(f"progress: expected None, True or a callable (done, total), got {progress!r}")
