"""Hypothesis runs 200 examples per property in the suite; HYPOTHESIS_PROFILE=thorough hunts for more.

A property whose examples cost real time (a print over a pty) sets its own smaller count."""

import os

from hypothesis import settings

settings.register_profile("suite", max_examples=200, deadline=None)
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))
