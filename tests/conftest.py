"""Hypothesis runs a handful of examples in the suite; HYPOTHESIS_PROFILE=thorough hunts for more."""

import os

from hypothesis import settings

settings.register_profile("suite", max_examples=200, deadline=None)
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))
