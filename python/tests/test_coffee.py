"""The Coffee Automaton from Python: coarse-graining against a numpy brute force,
conservation and the non-interacting rows' exact expectation, checkpoints, bad input."""

import numpy as np
import pytest

import morphogen
from morphogen import coffee


def brute_coarse(cells, g):
    """Window averages by explicit slicing (truncated at the borders), in 3 buckets."""
    n = cells.shape[0]
    h = g // 2
    out = np.zeros((n, n), np.uint8)
    for r in range(n):
        for c in range(n):
            w = cells[max(r - h, 0):r + h + 1, max(c - h, 0):c + h + 1]
            s, k = int(w.sum()), w.size
            out[r, c] = 0 if 3 * s <= k else (1 if 3 * s <= 2 * k else 2)
    return out


def test_coarse_graining_matches_numpy_windows(rng):
    for n, g in [(8, 3), (12, 5), (10, None)]:
        cells = (rng.random((n, n)) < 0.5).astype(np.uint32)
        got = coffee.coarse_grain(cells, grain=g)
        want = brute_coarse(cells, g if g is not None else 3)
        np.testing.assert_array_equal(got["coarse"], want)
        assert got["adjusted"].max() <= 6


def test_a_run_conserves_cream_and_gpu_grids_match_the_cpu(context):
    a = coffee.Automaton("interacting", size=16, replicas=4, seed=3, context=context)
    curves = a.run(steps=4000, samples=9)
    assert curves["step"].tolist() == [k * 500 for k in range(9)]
    assert curves["profile"].shape == (9, 16)
    np.testing.assert_allclose(curves["profile"].mean(axis=1), 0.5)
    assert (np.diff(curves["attempts"]) > 0).all()
    assert curves["entropy"][-1] > curves["entropy"][0]
    state = a.state()
    assert state["cells"].shape == (4, 16, 16)
    assert (state["cells"].sum(axis=(1, 2)) == 128).all()
    assert (state["swaps"] == 4000).all()
    grids = a.grids()
    for r in range(4):
        twin = coffee.coarse_grain(state["cells"][r])
        np.testing.assert_array_equal(grids["coarse"][r], twin["coarse"])
        np.testing.assert_array_equal(grids["adjusted"][r], twin["adjusted"])


def test_noninteracting_rows_follow_their_recurrence(context):
    n, steps = 10, 6
    a = coffee.Automaton("noninteracting", size=n, replicas=256, seed=11, context=context)
    a.advance(steps)
    rows = a.state()["cells"].sum(axis=2).astype(float)
    c = np.where(np.arange(n) < n // 2, float(n), 0.0)
    for _ in range(steps):
        up = np.concatenate([[c[0]], c[:-1]])
        down = np.concatenate([c[1:], [c[-1]]])
        c = c / 2 + up / 4 + down / 4
    se = np.maximum(rows.std(axis=0, ddof=1) / np.sqrt(len(rows)), 0.05)
    assert (np.abs(rows.mean(axis=0) - c) <= 4.5 * se).all()


def test_checkpoints_resume_exactly(context, tmp_path):
    whole = coffee.Automaton("interacting", size=12, replicas=2, seed=5, context=context)
    all_samples = whole.run(steps=3000, samples=7)
    part = coffee.Automaton("interacting", size=12, replicas=2, seed=5, context=context)
    part.run(steps=1000, samples=3)
    path = tmp_path / "coffee.safetensors"
    part.save_checkpoint(path)
    resumed = coffee.Automaton.resume(path, context=context)
    assert resumed.step == 1000
    resumed.run(steps=3000, samples=7)
    history = resumed.history()
    np.testing.assert_array_equal(history["step"], all_samples["step"])
    np.testing.assert_array_equal(history["entropy"], all_samples["entropy"])
    np.testing.assert_array_equal(resumed.state()["cells"], whole.state()["cells"])


def test_bad_input_says_what_is_wrong(context):
    with pytest.raises(ValueError, match="even"):
        coffee.Automaton(size=15, context=context)
    with pytest.raises(ValueError, match="model"):
        coffee.Automaton("swirl", context=context)
    with pytest.raises(ValueError, match="odd"):
        coffee.Automaton(size=16, grain=4, context=context)
    with pytest.raises(ValueError, match="samples"):
        coffee.Automaton(size=8, context=context).run(steps=10, samples=1)
    assert coffee.reference_schedule("interacting", 100) == (26547, 42476000)
