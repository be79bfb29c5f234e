"""Who may use farmctl: users, API keys, sessions and OctoPrint's app-key flow."""

from __future__ import annotations

from typing import TYPE_CHECKING

from farmctl.lazy import lazy_exports

if TYPE_CHECKING:
    from farmctl.auth.appkeys import AppKeyRequest, AppKeyState
    from farmctl.auth.keys import RESERVED_USER
    from farmctl.auth.roles import Principal, Role
    from farmctl.auth.service import AuthService, Throttled

__all__ = ["AppKeyRequest", "AppKeyState", "AuthService", "Principal", "RESERVED_USER", "Role", "Throttled"]
__getattr__ = lazy_exports(__name__, {
    "AppKeyRequest": "farmctl.auth.appkeys", "AppKeyState": "farmctl.auth.appkeys",
    "AuthService": "farmctl.auth.service", "Principal": "farmctl.auth.roles", "Role": "farmctl.auth.roles",
    "RESERVED_USER": "farmctl.auth.keys", "Throttled": "farmctl.auth.service",
})
