"""Hypothesis profiles, registered in one place.

    default   CI and local runs: few examples per test, no deadline (JAX compiles on first use)
    thorough  HYPOTHESIS_PROFILE=thorough pytest: many examples, for a real hunt
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile(
    "thorough", max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
