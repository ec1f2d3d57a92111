"""Test-suite settings: in CI (CI=true) Hypothesis draws a fixed sequence, so a run is reproducible."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
