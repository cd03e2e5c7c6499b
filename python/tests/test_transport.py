"""Transport against POT on small problems, and the package's argument handling."""

import numpy as np
import ot
import pytest

import morphogen
from morphogen import transport


def clouds(rng, n=60, m=50, d=2):
    return rng.normal(size=(n, d)), rng.normal(size=(m, d)) + 0.5


def test_balanced_plans_match_pot(context, rng):
    x, y = clouds(rng)
    a = rng.uniform(0.5, 1.5, len(x))
    a /= a.sum()
    b = np.full(len(y), 1 / len(y))
    eps = 0.1
    coupling = transport.Coupling(x, y, a, b, eps=eps, tol=1e-6, max_iter=5000, context=context)
    M = ot.dist(x, y)
    reference = ot.bregman.sinkhorn_log(a, b, M, eps, numItermax=20000, stopThr=1e-10)
    plan = coupling.plan()
    assert plan.shape == (60, 50)
    # Entries agree to 1e-4 of the plan's largest (small entries carry f32 rounding).
    np.testing.assert_allclose(plan, reference, rtol=0, atol=1e-4 * reference.max())
    sol = coupling.solution
    # tol = 1e-6 keeps the plan within the bound above; for some inputs it lies below
    # the f32 floor (2e-6 after 5000 iterations), so the solve may end unconverged: the
    # marginals must still hold to 1e-5.
    assert sol.marginal_error < 1e-5
    np.testing.assert_allclose(sol.primal_cost, np.sum(M * reference), rtol=1e-4)


def test_unbalanced_and_semi_relaxed_match_pot(context, rng):
    x, y = clouds(rng)
    a = np.full(len(x), 1 / len(x))
    b = np.full(len(y), 1.3 / len(y))
    eps, rho = 0.1, 1.0
    M = ot.dist(x, y)
    for reg_m, kwargs in [
        ((rho, rho), dict(tau=rho / (rho + eps))),
        ((np.inf, rho), dict(tau_a=1.0, tau_b=rho / (rho + eps))),
    ]:
        reference = ot.unbalanced.sinkhorn_unbalanced(
            a, b, M, eps, reg_m, reg_type="kl", numItermax=200000, stopThr=1e-15,
        )
        coupling = transport.Coupling(x, y, a, b, eps=eps, tol=1e-6, max_iter=20000,
                                      context=context, **kwargs)
        plan = coupling.plan()
        np.testing.assert_allclose(plan, reference, rtol=2e-3, atol=1e-4 * reference.max())


def test_a_batch_equals_separate_solves(context, rng):
    xs = rng.normal(size=(3, 40, 2))
    ys = rng.normal(size=(3, 30, 2)) + 1.0
    # A fixed number of iterations (a tolerance of 0), as a batch runs until all converge.
    fixed = dict(eps=0.1, tol=0.0, max_iter=50, on_not_converged="ignore", context=context)
    batch = transport.solve_batch(xs, ys, **fixed)
    assert len(batch) == 3
    for x, y, s in zip(xs, ys, batch):
        single = transport.solve(x, y, **fixed)
        np.testing.assert_array_equal(s.f, single.f)
        np.testing.assert_allclose(s.reg_ot_cost, single.reg_ot_cost)


def test_maps_samples_and_divergence(context, rng):
    x, y = clouds(rng, 80, 90)
    coupling = transport.Coupling(x, y, eps=0.05, context=context)
    mapped = coupling.map(x[:10])
    assert mapped.shape == (10, 2) and mapped.dtype == np.float32
    # The barycentric projection lies in the target's convex hull, near its points.
    assert np.all(np.linalg.norm(mapped - y.mean(0), axis=1) < np.abs(y - y.mean(0)).max() * 2)
    pairs = coupling.sample(500, seed=3)
    assert pairs.shape == (500, 2) and pairs.dtype == np.int64
    assert np.array_equal(pairs, coupling.sample(500, seed=3))
    assert pairs[:, 0].max() < 80 and pairs[:, 1].max() < 90
    same = transport.sinkhorn_divergence(x, x, eps=0.05, context=context)
    apart = transport.sinkhorn_divergence(x, y, eps=0.05, context=context)
    assert abs(same["value"]) < 1e-4 and apart["value"] > 0.1


def test_any_dtype_and_layout_is_accepted(context, rng):
    x, y = clouds(rng)
    reference = transport.solve(x.astype(np.float32), y.astype(np.float32), eps=0.1, context=context)
    for xv in [x, np.asfortranarray(x), np.repeat(x, 2, axis=0)[::2]]:
        s = transport.solve(xv, y, eps=0.1, context=context)
        np.testing.assert_array_equal(s.f, reference.f)
    ints = transport.solve(np.arange(12).reshape(6, 2), np.arange(10).reshape(5, 2), eps=1.0,
                           context=context)
    assert np.isfinite(ints.reg_ot_cost)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x, y: transport.solve(x[0], y), "2-D array"),
        (lambda x, y: transport.solve(x, y[:, :1]), "same dimension"),
        (lambda x, y: transport.solve(np.where(x > 0, np.nan, x), y), "not finite"),
        (lambda x, y: transport.solve(x[:0], y), "empty"),
        (lambda x, y: transport.solve(x.astype(complex), y), "real numbers"),
        (lambda x, y: transport.solve(x, y, eps=-1.0), "positive"),
        (lambda x, y: transport.solve(x, y, tau=1.5), "tau"),
        (lambda x, y: transport.solve(x, y, cost="l7"), "cost"),
        (lambda x, y: transport.solve(x, y, a=np.ones(3)), "a has shape"),
        (lambda x, y: transport.solve(x, y, anderson=20), "between 1 and 8"),
        (lambda x, y: transport.solve(x, y, convention="x"), "convention"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_argument(context, rng, capfd, call, message):
    x, y = clouds(rng, 10, 12)
    with pytest.raises(ValueError, match=message):
        call(x, y)
    assert capfd.readouterr().err == "", "nothing printed by a Rust panic"


def test_not_converging_warns_or_raises_as_asked(context, rng):
    x, y = clouds(rng)
    reports = []
    transport.solve(x, y, eps=0.05, tol=1e-5, progress=lambda it, most: reports.append((it, most)),
                    context=context)
    assert reports and all(it % 10 == 0 and most == 2000 for it, most in reports)

    def stop(it, most):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        transport.solve(x, y, eps=0.001, tol=1e-9, progress=stop, context=context)
    with pytest.warns(morphogen.NotConverged):
        transport.solve(x, y, eps=0.001, max_iter=3, tol=1e-9, context=context)
    with pytest.raises(morphogen.NotConvergedError):
        transport.solve(x, y, eps=0.001, max_iter=3, tol=1e-9, on_not_converged="raise",
                        context=context)


def test_a_missing_adapter_is_a_device_error():
    assert issubclass(morphogen.DeviceError, RuntimeError)
    with pytest.raises(morphogen.DeviceError, match="adapter"):
        morphogen.Context(adapter="no such adapter name")
    assert morphogen.adapters(), "this machine has at least the software adapter"


def test_gradients_match_finite_differences(context, rng):
    x, y = clouds(rng, 12, 10)
    kw = dict(eps=0.5, tol=1e-6, max_iter=20000, context=context)
    sol, gx, gy = transport.solve(x, y, grad=True, **kw)
    assert gx.shape == x.shape and gy.shape == y.shape
    h = 1e-2
    for k in [(0, 0), (5, 1)]:
        plus, minus = x.copy(), x.copy()
        plus[k] += h
        minus[k] -= h
        fd = (transport.solve(plus, y, **kw).reg_ot_cost - transport.solve(minus, y, **kw).reg_ot_cost) / (2 * h)
        assert abs(fd - gx[k]) < 2e-2 * (1 + abs(fd)), (k, fd, gx[k])
    div = transport.sinkhorn_divergence(x, y, grad=True, **kw)
    assert div["grad_x"].shape == x.shape and div["grad_y"].shape == y.shape
    plus, minus = x.copy(), x.copy()
    plus[3, 0] += h
    minus[3, 0] -= h
    fd = (transport.sinkhorn_divergence(plus, y, **kw)["value"]
          - transport.sinkhorn_divergence(minus, y, **kw)["value"]) / (2 * h)
    assert abs(fd - div["grad_x"][3, 0]) < 2e-2 * (1 + abs(fd)), (fd, div["grad_x"][3, 0])
    # The backward map: target points mapped onto the source cloud.
    coupling = transport.Coupling(x, y, **kw)
    back = coupling.map_back(y)
    assert back.shape == y.shape
    np.testing.assert_allclose(coupling.gradients()[1], gy, rtol=1e-4, atol=1e-5)
