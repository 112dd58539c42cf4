"""Shared test configuration: hypothesis profiles chosen by ``HYPOTHESIS_PROFILE``.

- ``dev`` (default): quick, for the edit-test loop;
- ``ci``: more examples, derandomised so CI is reproducible;
- ``exhaustive``: many examples, for a nightly or a release.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "exhaustive",
    max_examples=5_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
