"""Flow against closed forms and scipy, a field from a state_dict, and the biome's
census determinism and checkpoints."""

from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from morphogen import biome, flow

ROOT = Path(__file__).resolve().parents[2]


def test_a_linear_flow_has_its_closed_form(context, rng):
    x0 = rng.normal(size=(200, 2))
    field = flow.VelocityField.linear([[-1.0, 0.0], [0.0, -2.0]], [0.0, 0.0])
    out = flow.integrate(field, x0, solver="tsit5", rtol=1e-7, atol=1e-7, save_at=[0.5, 1.0],
                         logp="exact", context=context)
    assert out["states"].shape == (2, 200, 2)
    np.testing.assert_allclose(out["states"][1], x0 * np.exp([-1.0, -2.0]), rtol=1e-4, atol=1e-5)
    # d log p / dt = -div v = 3.
    np.testing.assert_allclose(out["logp"][1], 3.0, rtol=1e-4)
    reports = []
    flow.integrate(field, x0, progress=lambda done, total: reports.append((done, total)), context=context)
    assert reports and reports[-1] == (200, 200)


def selu(v):
    return 1.0507009873554805 * np.where(v > 0, v, 1.6732632423543772 * np.expm1(np.minimum(v, 0)))


def test_a_state_dict_field_matches_scipy_and_the_shipped_file_loads(context, rng):
    # TorchCFM's MLP(dim=2, w=16, time_varying=True): Linear layers at net.0, .2, .4, .6
    # with SELU between, input [x, t].
    sizes = [(16, 3), (16, 16), (16, 16), (2, 16)]
    state = {}
    for k, (out, inp) in enumerate(sizes):
        state[f"net.{2 * k}.weight"] = rng.normal(size=(out, inp)) * 0.5
        state[f"net.{2 * k}.bias"] = rng.normal(size=out) * 0.1
    field = flow.VelocityField.from_state_dict(state)
    assert field.dim == 2

    def v(t, x):
        h = np.concatenate([x, [t]])
        for k in range(4):
            h = state[f"net.{2 * k}.weight"] @ h + state[f"net.{2 * k}.bias"]
            if k < 3:
                h = selu(h)
        return h

    x0 = rng.normal(size=(6, 2))
    out = flow.integrate(field, x0, solver="dopri5", rtol=1e-7, atol=1e-7, context=context)
    # The GPU against the engine's f64 twin, step for step (fixed steps: adaptive step
    # choices in f32 and f64 part ways within the tolerance).
    many = rng.normal(size=(50, 2))
    kw = dict(solver="rk4", steps=50, save_at=[0.5, 1.0], logp="exact", context=context)
    gpu, cpu = flow.integrate(field, many, **kw), flow.integrate(field, many, reference=True, **kw)
    np.testing.assert_allclose(gpu["states"], cpu["states"], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gpu["logp"], cpu["logp"], rtol=1e-3, atol=1e-4)
    # f32 rounding is amplified by the flow's sensitivity to its start (random fields can
    # stretch by 10x or more), measured here from the reference itself.
    end = lambda x: solve_ivp(v, (0.0, 1.0), x, rtol=1e-10, atol=1e-10).y[:, -1]
    for p in range(6):
        ref = end(x0[p])
        stretch = max(np.abs(end(x0[p] + 1e-4 * e) - ref).max() / 1e-4 for e in np.eye(2))
        tol = 1e-4 * max(1.0, stretch)
        np.testing.assert_allclose(out["states"][-1, p], ref, rtol=1e-4, atol=tol)
    shipped = flow.VelocityField.load(ROOT / "assets/demo_flow.safetensors", ROOT / "assets/demo_flow.json")
    moved = flow.integrate(shipped, rng.normal(size=(100, 2)), solver="rk4", steps=20, context=context)
    assert moved["states"].shape == (1, 100, 2) and np.all(np.isfinite(moved["states"]))
    with pytest.raises(ValueError, match="solver"):
        flow.integrate(field, x0, solver="rk45", context=context)
    with pytest.raises(ValueError, match="dimension"):
        flow.integrate(field, rng.normal(size=(4, 3)), context=context)


def test_biome_runs_are_deterministic_and_checkpoints_resume(context, tmp_path):
    a = biome.World("persistence", height=24, width=40, seed=3, context=context)
    b = biome.World("persistence", height=24, width=40, seed=3, context=context)
    reports = []
    ca, cb = a.run(30, progress=lambda done, total: reports.append((done, total))), b.run(30)
    assert reports and reports[-1] == (30, 30)
    assert set(ca) >= {"step", "agents", "root", "leaf", "flower", "reproductions"}
    assert len(ca["step"]) == 30 and ca["step"][-1] == 30
    for key in ca:
        np.testing.assert_array_equal(ca[key], cb[key])
    image = a.render(zoom=2)
    assert image.shape == (48, 80, 3) and image.dtype == np.uint8
    a.save_checkpoint(tmp_path / "w.safetensors")
    resumed = biome.World.resume(tmp_path / "w.safetensors", context=context)
    assert resumed.steps_done == 30
    np.testing.assert_array_equal(resumed.run(10)["agents"], a.run(10)["agents"])
    with pytest.raises(ValueError, match="preset"):
        biome.World("drought", context=context)


def test_a_batch_of_worlds_runs_each_seed_as_it_runs_alone(context, tmp_path):
    batch = biome.Worlds("persistence", height=16, width=40, seeds=[4, 9, 11], context=context)
    rows = batch.run(25)
    assert rows["agents"].shape == (3, 25)
    assert batch.seeds == [4, 9, 11]
    alone = biome.World("persistence", height=16, width=40, seed=9, context=context)
    single = alone.run(25)
    np.testing.assert_array_equal(rows["agents"][1], single["agents"])
    np.testing.assert_array_equal(batch.render(1, zoom=2), alone.render(zoom=2))
    batch.save_checkpoint(1, tmp_path / "w.safetensors")
    resumed = biome.World.resume(tmp_path / "w.safetensors", context=context)
    assert resumed.steps_done == 25
    assert biome.Worlds.max_batch("persistence", height=16, width=40, context=context) >= 3
    with pytest.raises(ValueError):
        biome.Worlds(seeds=[], context=context)
    with pytest.raises(ValueError):
        batch.render(3)


def test_sde_branches_weights_and_progress(context, rng):
    from morphogen.flow import sde

    x0 = rng.normal(size=(300, 2))
    rotation = flow.VelocityField.linear([[0.0, -1.0], [1.0, 0.0]], [0.0, 0.0])
    reports = []
    out = sde.simulate(
        [sde.Branch(rotation), rotation], x0, solver="sra1", steps=40, sigma=0.2,
        save_at=[0.5, 1.0], initial_weights=[0.25, 0.75], seed=4,
        progress=lambda done, total: reports.append((done, total)), context=context,
    )
    assert out["states"].shape == (2, 2, 300, 2)
    np.testing.assert_allclose(out["mass"][-1], [0.25 * 300, 0.75 * 300], rtol=1e-5)
    assert reports and reports[-1][0] == reports[-1][1] == 40 * 300 * 2
    again = sde.simulate([rotation, rotation], x0, solver="sra1", steps=40, sigma=0.2,
                         save_at=[0.5, 1.0], initial_weights=[0.25, 0.75], seed=4, context=context)
    np.testing.assert_array_equal(out["states"], again["states"])
    # A progress callback that raises stops the run with its exception.
    def stop(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sde.simulate(rotation, x0, steps=40, save_at=[0.25, 0.5, 1.0], progress=stop, context=context)
    with pytest.raises(ValueError, match="solver"):
        sde.simulate(rotation, x0, solver="milstein", context=context)


def test_petri_dishes_count_reproductions_and_evolutions_resume_exactly(context, tmp_path):
    dish = biome.World("pestilence", height=24, width="petri", seed=2,
                       intercept_reproduction=0.14, context=context)
    census = dish.run(300)
    assert census["seeds"].sum() == 0, "a petri dish places no seeds"
    assert 0 < census["intercepted"].sum() <= census["reproductions"].sum()
    whole = biome.Evolution(height=12, population=4, steps=30, seed=5, context=context)
    history = whole.run(3)
    assert history["generation"].tolist() == [0, 1, 2]
    part = biome.Evolution(height=12, population=4, steps=30, seed=5, context=context)
    part.run(1)
    path = tmp_path / "evolution.safetensors"
    part.save_checkpoint(path)
    resumed = biome.Evolution.resume(path, context=context)
    resumed.run(2)
    np.testing.assert_array_equal(resumed.history()["mean"], history["mean"])
    np.testing.assert_array_equal(resumed.program(), whole.program())
    np.save(tmp_path / "evolved.npy", whole.program())
    world = biome.World("persistence", height=16, seed=1, context=context)
    world.load_program(tmp_path / "evolved.npy")
    world.run(3, census=False)
    with pytest.raises(ValueError, match="even"):
        biome.Evolution(population=5, context=context)
