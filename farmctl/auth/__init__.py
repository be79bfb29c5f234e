"""Who may use farmctl: users, API keys, sessions and OctoPrint's app-key flow."""

from farmctl.auth.appkeys import AppKeyRequest, AppKeyState
from farmctl.auth.roles import Principal, Role
from farmctl.auth.keys import RESERVED_USER
from farmctl.auth.service import AuthService, Throttled

__all__ = ["AppKeyRequest", "AppKeyState", "AuthService", "Principal", "RESERVED_USER", "Role", "Throttled"]
