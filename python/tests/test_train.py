"""Training on the GPU from Python: point clouds and named samplers in, losses and a
field out; OT pairs beat independent ones; a checkpointed run resumes exactly; the
saved model loads as a field; bad input raises ValueError."""

import numpy as np
import pytest

from morphogen import flow


def test_ot_pairs_learn_a_lower_loss_than_independent_ones(context):
    losses = {}
    for method in ("icfm", "otcfm"):
        t = flow.Trainer("8gaussians", "moons", method=method, batch=64, width=16, seed=4,
                         context=context)
        out = t.train(150)
        assert out.shape == (150, 1) and np.isfinite(out).all()
        losses[method] = out[-50:].mean()
    assert losses["otcfm"] < 0.5 * losses["icfm"], losses


def test_point_clouds_models_checkpoints_and_saved_fields(context, rng, tmp_path):
    x0 = rng.normal(size=(300, 3)).astype(np.float32)
    x1 = (rng.normal(size=(200, 3)) + 4.0).astype(np.float32)
    t = flow.Trainer(x0, x1, method="sbcfm", sigma=0.3, batch=32, width=16, models=2,
                     seed=9, context=context)
    t.train(10)
    t.save_checkpoint(tmp_path / "run.safetensors")
    t.train(5)
    resumed = flow.Trainer.resume(tmp_path / "run.safetensors", context=context)
    resumed.train(5)
    assert resumed.step == t.step == 15
    np.testing.assert_array_equal(resumed.parameters(), t.parameters())
    np.testing.assert_array_equal(resumed.losses(), t.losses())
    assert t.parameters().shape[0] == 2
    # The saved model is the field the trainer hands out, and the flow moves the source
    # cloud toward the target's mean.
    t.save(tmp_path / "m.safetensors", tmp_path / "m.json", model=1)
    loaded = flow.VelocityField.load(tmp_path / "m.safetensors", tmp_path / "m.json")
    a = flow.integrate(loaded, x0[:50], solver="rk4", steps=20, context=context)["states"][-1]
    b = flow.integrate(t.field(1), x0[:50], solver="rk4", steps=20, context=context)["states"][-1]
    np.testing.assert_array_equal(a, b)
    q = t.evaluate(samples=64, model=1)
    assert q["samples"].shape == (64, 3) and q["w2_squared"] > 0


def test_bad_training_input_raises_value_error(context):
    with pytest.raises(ValueError, match="method"):
        flow.Trainer(method="ot", context=context)
    with pytest.raises(ValueError, match="source"):
        flow.Trainer("spirals", "moons", context=context)
    with pytest.raises(ValueError, match="batch"):
        flow.Trainer(batch=1, context=context)
    with pytest.raises(ValueError, match="exact_pairing"):
        flow.Trainer(exact_pairing="gpu", context=context)
    with pytest.raises(ValueError, match="dimension"):
        flow.Trainer(np.zeros((10, 2), np.float32), np.zeros((10, 3), np.float32), context=context)


def test_score_networks_train_beside_the_flows(context, rng, tmp_path):
    t = flow.Trainer("8gaussians", "moons", method="sbcfm", sigma=0.2, batch=32, width=16,
                     models=2, score=True, seed=3, context=context)
    out = t.train(20)
    # Columns: the two flows, then their score networks.
    assert out.shape == (20, 4) and np.isfinite(out).all()
    assert t.parameters().shape[0] == 4
    # A score loss is mean((lambda s + eps)^2): near E[eps^2] = 1 for an untrained net.
    assert 0.3 < out[:5, 2:].mean() < 3.0
    t.save(tmp_path / "s.safetensors", tmp_path / "s.json", model=1, score=True)
    loaded = flow.VelocityField.load(tmp_path / "s.safetensors", tmp_path / "s.json")
    x = rng.normal(size=(40, 2)).astype(np.float32)
    a = flow.integrate(loaded, x, solver="rk4", steps=5, context=context)["states"][-1]
    b = flow.integrate(t.score_field(1), x, solver="rk4", steps=5,
                       context=context)["states"][-1]
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="sigma"):
        flow.Trainer(score=True, sigma=0.0, context=context)
    with pytest.raises(ValueError, match="score"):
        flow.Trainer(method="icfm", batch=16, width=8, context=context).score_field(0)


def test_a_sigma_sweep_trains_one_model_per_value(context):
    sweep = flow.Trainer(method="icfm", sigma=[0.05, 0.5], batch=32, width=16, seed=5,
                         context=context)
    assert sweep.train(3).shape == (3, 2)
    alone = flow.Trainer(method="icfm", sigma=0.5, batch=32, width=16, seed=6, context=context)
    alone.train(3)
    np.testing.assert_array_equal(sweep.parameters()[1], alone.parameters()[0])
    with pytest.raises(ValueError, match="models"):
        flow.Trainer(sigma=[0.1, 0.2], models=3, context=context)
