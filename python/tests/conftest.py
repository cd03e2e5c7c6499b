"""Shared fixtures: one default context per session, and seeded random inputs whose seed
is printed (set MORPHOGEN_TEST_SEED to replay)."""

import os
import time

import numpy as np
import pytest

import morphogen


@pytest.fixture(scope="session")
def context():
    ctx = morphogen.Context()
    print(f"GPU tests on {ctx.adapter}")
    return ctx


@pytest.fixture
def rng(request):
    seed = int(os.environ.get("MORPHOGEN_TEST_SEED", time.time_ns() % 2**32))
    print(f"{request.node.name}: seed {seed} (replay with MORPHOGEN_TEST_SEED={seed})")
    return np.random.default_rng(seed)
