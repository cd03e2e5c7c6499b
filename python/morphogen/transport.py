"""Entropic optimal transport by log-domain Sinkhorn on the GPU, between point clouds of
any size (costs are computed on the fly; no n x m matrix unless it pays).

Names follow POT and OTT-JAX: ``a``, ``b`` the weights (uniform when omitted), ``eps`` the
entropic regularisation (absolute) or ``eps_rel`` (times the mean cost, as OTT's
``relative_epsilon``), ``tau_a``/``tau_b`` the marginal relaxations of unbalanced
transport (``tau = rho / (rho + eps)``; 1 is a hard constraint).
"""

from ._arrays import check_converged, context_or_default, floats, progress_callback
from . import _core

Solution = _core.Solution

_COSTS = ("sqeuclidean", "euclidean", "l1")


def _settings(cost, eps, eps_rel, tau, tau_a, tau_b, convention, tol, max_iter, momentum,
              anderson, eps_scaling):
    if not isinstance(cost, str) or not (cost in _COSTS or cost.startswith("elastic:")):
        raise ValueError(f"cost={cost!r}: use sqeuclidean, euclidean, l1 or elastic:GAMMA")
    if eps is not None and not eps > 0:
        raise ValueError(f"eps={eps}: the entropic regularisation must be positive")
    tau_a = tau if tau_a is None else tau_a
    tau_b = tau if tau_b is None else tau_b
    for name, value in (("tau_a", tau_a), ("tau_b", tau_b)):
        if not 0 < value <= 1:
            raise ValueError(f"{name}={value}: tau must lie in (0, 1] (1 is balanced)")
    return {
        "cost": cost, "eps": None if eps is None else float(eps), "eps_rel": float(eps_rel),
        "tau_a": float(tau_a), "tau_b": float(tau_b), "convention": convention,
        "tol": float(tol), "max_iter": int(max_iter), "momentum": float(momentum),
        "anderson": anderson, "eps_scaling": eps_scaling,
    }


def _pack(**kwargs):
    return _settings(**kwargs)


def _inputs(x, y, a, b, batch=False):
    ndim = 3 if batch else 2
    x, y = floats("x", x, ndim), floats("y", y, ndim)
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(
            f"x and y must have the same dimension: x is {x.shape}, y is {y.shape}"
        )
    if batch and x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y hold {x.shape[0]} and {y.shape[0]} problems")
    a = floats("a", a, ndim - 1, allow_none=True)
    b = floats("b", b, ndim - 1, allow_none=True)
    if a is not None and a.shape != x.shape[:-1]:
        raise ValueError(f"a has shape {a.shape}; x has {x.shape[:-1]} points")
    if b is not None and b.shape != y.shape[:-1]:
        raise ValueError(f"b has shape {b.shape}; y has {y.shape[:-1]} points")
    return x, y, a, b


def solve(x, y, a=None, b=None, *, cost="sqeuclidean", eps=None, eps_rel=0.05, tau=1.0,
          tau_a=None, tau_b=None, convention="kl", tol=1e-3, max_iter=2000, momentum=1.0,
          anderson=None, eps_scaling=None, on_not_converged="warn", grad=False, progress=None,
          context=None):
    """Solves entropic OT between the clouds ``x`` (n x d) and ``y`` (m x d).

    Returns a :class:`Solution` with ``f``, ``g`` (numpy), ``reg_ot_cost``,
    ``primal_cost``, ``iterations``, ``converged``, ``marginal_error``,
    ``transported_mass``, ``epsilon`` and ``errors``. ``convention="kl"`` is
    ε KL(P | a⊗b) (POT's ``reg_type="kl"``, GeomLoss); ``"entropy"`` is −ε H(P) (OTT-JAX,
    POT's default ``sinkhorn``); the plans agree when balanced. ``anderson=M`` turns on
    Anderson acceleration over M iterates; ``eps_scaling=0.9`` anneals ε. A solve that
    stops at ``max_iter`` warns with :class:`morphogen.NotConverged` (or raises, or not).

    With ``grad=True`` (squared Euclidean cost) returns ``(solution, grad_x, grad_y)``, the
    gradients of ``reg_ot_cost`` with respect to the points from the converged potentials
    (Danskin): ``grad_x[i] = 2 r_i (x_i - T(x_i))`` with ``r`` the plan's row masses.
    ``progress``: a callable ``(iterations, max_iter)`` called at each error check, or True
    for a tqdm bar; Ctrl-C stops the solve there.
    """
    x, y, a, b = _inputs(x, y, a, b)
    settings = _pack(cost=cost, eps=eps, eps_rel=eps_rel, tau=tau, tau_a=tau_a, tau_b=tau_b,
                     convention=convention, tol=tol, max_iter=max_iter, momentum=momentum,
                     anderson=anderson, eps_scaling=eps_scaling)
    ctx = context_or_default(context)
    watch = progress_callback(progress, "sinkhorn")
    if grad:
        coupling = _core.Coupling(ctx, x, y, a, b, settings, watch)
        solution = coupling.solution
        check_converged([solution], on_not_converged)
        grad_x, grad_y = coupling.gradients()
        return solution, grad_x, grad_y
    solution = _core.transport_solve(ctx, x, y, a, b, settings, watch)
    check_converged([solution], on_not_converged)
    return solution


def solve_batch(x, y, a=None, b=None, *, cost="sqeuclidean", eps=None, eps_rel=0.05,
                tau=1.0, tau_a=None, tau_b=None, convention="kl", tol=1e-3, max_iter=2000,
                momentum=1.0, anderson=None, eps_scaling=None, on_not_converged="warn",
                context=None):
    """Solves B problems of equal shape in one dispatch chain: ``x`` is B x n x d, ``y``
    B x m x d (``a``, ``b``: B x n, B x m). Returns a list of :class:`Solution`."""
    x, y, a, b = _inputs(x, y, a, b, batch=True)
    settings = _pack(cost=cost, eps=eps, eps_rel=eps_rel, tau=tau, tau_a=tau_a, tau_b=tau_b,
                     convention=convention, tol=tol, max_iter=max_iter, momentum=momentum,
                     anderson=anderson, eps_scaling=eps_scaling)
    solutions = _core.transport_solve_batch(context_or_default(context), x, y, a, b, settings)
    check_converged(solutions, on_not_converged)
    return solutions


def sinkhorn_divergence(x, y, a=None, b=None, *, cost="sqeuclidean", eps=None, eps_rel=0.05,
                        tau=1.0, tau_a=None, tau_b=None, convention="kl", tol=1e-3,
                        max_iter=2000, momentum=1.0, anderson=None, eps_scaling=None,
                        on_not_converged="warn", grad=False, context=None):
    """The debiased Sinkhorn divergence S = OT(a, b) − ½ OT(a, a) − ½ OT(b, b) (plus the
    mass term when unbalanced), as GeomLoss's ``SamplesLoss("sinkhorn")`` with
    ``debias=True``. Returns a dict with ``value`` and the three :class:`Solution`; with
    ``grad=True`` (squared Euclidean cost) also ``grad_x`` and ``grad_y``, dS/dx and dS/dy,
    so the divergence serves as a training loss."""
    x, y, a, b = _inputs(x, y, a, b)
    settings = _pack(cost=cost, eps=eps, eps_rel=eps_rel, tau=tau, tau_a=tau_a, tau_b=tau_b,
                     convention=convention, tol=tol, max_iter=max_iter, momentum=momentum,
                     anderson=anderson, eps_scaling=eps_scaling)
    out = _core.transport_divergence(context_or_default(context), x, y, a, b, settings, bool(grad))
    check_converged([out["ot_xy"], out["ot_xx"], out["ot_yy"]], on_not_converged)
    return out


class Coupling:
    """A solved problem kept on the GPU: ``map(points)`` (the entropic map),
    ``sample(k, seed)`` (index pairs drawn from the plan, as minibatch OT couplings need),
    ``plan()`` (the dense plan of small problems) and ``solution``. Arguments as
    :func:`solve`."""

    def __init__(self, x, y, a=None, b=None, *, cost="sqeuclidean", eps=None, eps_rel=0.05,
                 tau=1.0, tau_a=None, tau_b=None, convention="kl", tol=1e-3, max_iter=2000,
                 momentum=1.0, anderson=None, eps_scaling=None, on_not_converged="warn",
                 progress=None, context=None):
        x, y, a, b = _inputs(x, y, a, b)
        self._dim = x.shape[1]
        settings = _pack(cost=cost, eps=eps, eps_rel=eps_rel, tau=tau, tau_a=tau_a,
                         tau_b=tau_b, convention=convention, tol=tol, max_iter=max_iter,
                         momentum=momentum, anderson=anderson, eps_scaling=eps_scaling)
        self._inner = _core.Coupling(context_or_default(context), x, y, a, b, settings,
                                     progress_callback(progress, "sinkhorn"))
        check_converged([self._inner.solution], on_not_converged)

    @property
    def solution(self):
        """The :class:`Solution`."""
        return self._inner.solution

    @property
    def f(self):
        return self._inner.solution.f

    @property
    def g(self):
        return self._inner.solution.g

    def map(self, points):
        """T(points) for P x d points (squared Euclidean and elastic costs)."""
        points = floats("points", points, 2)
        if points.shape[1] != self._dim:
            raise ValueError(f"points: dimension {points.shape[1]}, the problem's is {self._dim}")
        return self._inner.map(points)

    def map_back(self, points):
        """The entropic map the other way, of Q x d target-space points."""
        points = floats("points", points, 2)
        if points.shape[1] != self._dim:
            raise ValueError(f"points: dimension {points.shape[1]}, the problem's is {self._dim}")
        return self._inner.map_back(points)

    def gradients(self):
        """``(grad_x, grad_y)``: the gradients of ``reg_ot_cost`` with respect to the points
        (squared Euclidean cost), from the converged potentials."""
        return self._inner.gradients()

    def sample(self, k, seed=0):
        """K index pairs (i, j) drawn from P / sum(P), as a K x 2 int64 array."""
        if int(k) < 0:
            raise ValueError(f"k={k}: the number of samples must be >= 0")
        return self._inner.sample(int(k), int(seed))

    def plan(self):
        """The dense n x m plan (refused above 2^26 entries)."""
        return self._inner.plan()
