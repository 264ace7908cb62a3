"""Repository-wide pytest configuration: Hypothesis profiles and device markers."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", deadline=None, max_examples=50)
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=30,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("VJPCHECK_HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
