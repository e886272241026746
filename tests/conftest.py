"""Hypothesis profiles, registered in one place.

    default   CI and local runs: few examples per test, no deadline (JAX compiles on first use)
    thorough  HYPOTHESIS_PROFILE=thorough pytest: many examples, for a real hunt
"""

import os
import sys

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile(
    "thorough", max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True, scope="module")
def _drop_compiled_jax_functions():
    """Each Hypothesis-drawn shape compiles a JAX function; drop them after every test module so a
    long run stays under the kernel's memory-map limit."""
    yield
    if "gradlab.oracles.jax_models" in sys.modules:
        sys.modules["gradlab.oracles.jax_models"].clear_caches()
