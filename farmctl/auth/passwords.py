"""Password hashes: scrypt with a per-user random salt, stored as ``scrypt$n$r$p$salt_hex$hash_hex``.

Plain functions with no I/O; they are CPU-heavy (tens of milliseconds), so async callers run them
through ``asyncio.to_thread``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets

log = logging.getLogger(__name__)

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_SALT_BYTES = 16
_HASH_BYTES = 32
_MAX_N = 2**20  # refuse stored parameters that would take seconds or gigabytes
MAX_PASSWORD_CHARS = 1024


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=256 * n * r + (1 << 20)
    )


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, n, r, p, _HASH_BYTES)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    """Compare in constant time. A missing or malformed hash costs the same work and says no."""
    parsed = _parse(stored) if stored is not None else None
    if parsed is None:
        salt = _dummy_salt()
        hmac.compare_digest(_scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, _HASH_BYTES), salt * 2)
        return False
    n, r, p, salt, expected = parsed
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(expected)), expected)


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    try:
        scheme, n_text, r_text, p_text, salt_hex, hash_hex = stored.split("$")
        n, r, p = int(n_text), int(r_text), int(p_text)
        salt, expected = bytes.fromhex(salt_hex), bytes.fromhex(hash_hex)
    except ValueError:
        log.warning("ignoring a malformed password hash")
        return None
    if scheme != "scrypt" or not (1 < n <= _MAX_N and n & (n - 1) == 0) or not (0 < r <= 32 and 0 < p <= 16):
        log.warning("ignoring a password hash with unsupported parameters")
        return None
    if not salt or not expected:
        return None
    return n, r, p, salt, expected


@functools.lru_cache(maxsize=1)
def _dummy_salt() -> bytes:
    """A salt for the wasted work when there is no hash to check (16 bytes; doubled, 32)."""
    return secrets.token_bytes(_SALT_BYTES)
