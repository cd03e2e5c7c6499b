"""morphogen: GPU engines for entropic optimal transport, learned flows, the Biomaker CA
and the Coffee Automaton, on any GPU (Vulkan, Metal, DX12) or the CPU's software Vulkan, with numpy in and out.

    import numpy as np, morphogen
    x, y = np.random.randn(500, 2), np.random.randn(600, 2) + 1
    sol = morphogen.transport.solve(x, y, eps=0.05)
    print(sol.reg_ot_cost, sol.converged)

Every function takes an optional ``context=`` (a :class:`Context`); without one a default
context on the best adapter is created on first use (importing does no GPU work).
"""

from . import _core
from ._core import Context, DeviceError, adapters
from ._arrays import NotConverged, NotConvergedError, default_context, set_default_context
from . import biome, coffee, flow, transport

__all__ = [
    "Context",
    "DeviceError",
    "NotConverged",
    "NotConvergedError",
    "adapters",
    "biome",
    "coffee",
    "default_context",
    "flow",
    "set_default_context",
    "transport",
]
__version__ = "0.1.0"
