"""How farmctl nodes that share one store prove to each other who is calling: signed requests.

Nodes that share a database already trust each other with the whole queue, so the database is
where their shared secret lives: the first node to start stores 32 random bytes in
``farm_secrets`` and every node reads the same. The secret never crosses the network and is
never logged: a call carries only an HMAC-SHA256 signature over what it asks, in headers:

``X-Farmctl-Node``       the calling node's name
``X-Farmctl-Role``       the role it acts with (the role of the user whose action it forwards;
                         ``viewer`` for its own reads), so a forwarded action is checked as strictly
                         as the user's own call would be
``X-Farmctl-User``       optional: the user the calling node authenticated
``X-Farmctl-Time``       seconds since the epoch when it signed
``X-Farmctl-Nonce``      random, once per request
``X-Farmctl-Signature``  hex HMAC-SHA256 of the lines below, with the farm's secret

The signed lines are a version tag, the method, the path and query exactly as sent (a proxy that
rewrites paths breaks signatures, on purpose), the headers above and the SHA-256 of the body. A
receiver accepts a signature within ``WINDOW`` seconds of its own clock (the nodes keep NTP time
for the heartbeats anyway) and each nonce once, so a captured request can neither be replayed nor
altered. On plain HTTP the answers themselves are not secret; put nodes on a trusted LAN or
behind TLS (``node_url = "https://..."``) for that.

Rotating the secret: delete the ``peer`` row of ``farm_secrets`` and restart every node.
This module does no I/O but the store read in :meth:`PeerAuth.load`; time is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from farmctl.auth.roles import Principal, Role
from farmctl.farm.checks import NAME
from farmctl.store import Store

WINDOW = 60.0
"""Seconds a signature is good for, either side of the receiver's clock."""
VERSION = "farmctl-peer-v1"
NODE, ROLE, USER, TIME, NONCE, SIGNATURE = (
    "X-Farmctl-Node", "X-Farmctl-Role", "X-Farmctl-User", "X-Farmctl-Time", "X-Farmctl-Nonce", "X-Farmctl-Signature")
HEADERS = (NODE, ROLE, USER, TIME, NONCE, SIGNATURE)
MAX_NONCES = 100_000
"""Nonces remembered within the window; a flood beyond this forgets the oldest (they expire anyway)."""
_EMPTY_BODY = hashlib.sha256(b"").hexdigest()
_TIME = re.compile(r"[0-9]{1,12}(\.[0-9]{1,6})?")
_NONCE = re.compile(r"[0-9a-f]{32}")
"""Strict forms for the signed fields (whole matches), so no two calls join into the same signed text."""


@dataclass(frozen=True, slots=True)
class PeerCall:
    """Who a verified peer call came from."""

    node: str
    role: Role
    user: str | None

    @property
    def principal(self) -> Principal:
        who = f"node {self.node}" if self.user is None else f"{self.user} (through node {self.node})"
        return Principal(who, self.role)


def is_signed(headers: Mapping[str, str]) -> bool:
    """Whether a request claims to come from a peer node (then it must verify, or it is refused)."""
    return SIGNATURE in headers


class PeerAuth:
    """This node's side of signed calls: :meth:`sign` for its own, :meth:`verify` for the others'."""

    def __init__(self, node: str) -> None:
        self.node = node
        self._secret: bytes | None = None
        self._nonces: dict[str, float] = {}
        self._next_sweep = 0.0

    async def load(self, store: Store, now: float) -> None:
        """Read the farm's secret from the store (making it if this is the first node)."""
        async with store.transaction() as tx:
            stored = await tx.nodes.peer_secret(secrets.token_hex(32), now)
        self._secret = bytes.fromhex(stored)

    def sign(self, method: str, target: str, body: bytes, now: float, role: Role = Role.VIEWER,
             user: str | None = None) -> dict[str, str]:
        """The headers that make a call to ``target`` (path and query) a signed one."""
        headers = {NODE: self.node, ROLE: role.value, TIME: f"{now:.3f}", NONCE: secrets.token_hex(16)}
        if user is not None:
            headers[USER] = user
        headers[SIGNATURE] = self._mac(method, target, headers, hashlib.sha256(body).hexdigest() if body else _EMPTY_BODY)
        return headers

    def verify(self, method: str, target: str, headers: Mapping[str, str], body: bytes, now: float) -> PeerCall | None:
        """The call's sender if its signature is good, fresh and not seen before; None otherwise."""
        if self._secret is None:
            return None
        node, role_text, user = headers.get(NODE, ""), headers.get(ROLE, ""), headers.get(USER)
        signed_text, nonce = headers.get(TIME, ""), headers.get(NONCE, "")
        if not (_TIME.fullmatch(signed_text) and _NONCE.fullmatch(nonce) and NAME.fullmatch(node)):
            return None
        try:
            role = Role(role_text)
        except ValueError:
            return None
        if abs(now - float(signed_text)) > WINDOW:
            return None
        if user is not None and (not user or len(user) > 200 or not user.isprintable()):
            return None
        fields = {NODE: node, ROLE: role_text, TIME: signed_text, NONCE: nonce}
        if user is not None:
            fields[USER] = user
        expected = self._mac(method, target, fields, hashlib.sha256(body).hexdigest() if body else _EMPTY_BODY)
        if not hmac.compare_digest(expected, headers.get(SIGNATURE, "")):
            return None
        if not self._first_use(nonce, now):
            return None
        return PeerCall(node, role, user)

    def _mac(self, method: str, target: str, fields: Mapping[str, str], body_sha256: str) -> str:
        if self._secret is None:
            raise RuntimeError("the peer secret is not loaded (PeerAuth.load)")
        lines = [VERSION, method.upper(), target, fields[NODE], fields[ROLE], fields.get(USER, ""), fields[TIME],
                 fields[NONCE], body_sha256]
        return hmac.new(self._secret, "\n".join(lines).encode(), hashlib.sha256).hexdigest()

    def _first_use(self, nonce: str, now: float) -> bool:
        if now >= self._next_sweep or len(self._nonces) >= MAX_NONCES:
            self._forget(now)
            self._next_sweep = now + WINDOW
        if nonce in self._nonces:
            return False
        self._nonces[nonce] = now
        return True

    def _forget(self, now: float) -> None:
        """Drop nonces whose signatures are stale by now (a replay of them is refused for its time)."""
        self._nonces = {n: t for n, t in self._nonces.items() if now - t <= 2 * WINDOW}
        while len(self._nonces) >= MAX_NONCES:
            self._nonces.pop(next(iter(self._nonces)))
