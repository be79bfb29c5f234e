"""Who may use farmctl: users, API keys, sessions and OctoPrint's app-key flow."""

from farmctl.auth.appkeys import AppKeyRequest, AppKeyState
from farmctl.auth.roles import Principal, Role
from farmctl.auth.service import RESERVED_USER, AuthService

__all__ = ["AppKeyRequest", "AppKeyState", "AuthService", "Principal", "RESERVED_USER", "Role"]
