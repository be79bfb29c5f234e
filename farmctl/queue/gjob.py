"""Export and import of .gjob files (placeholder until implemented)."""

from __future__ import annotations

from farmctl.queue.base import ModelBase


class Gjobs(ModelBase):
    pass
