"""Passwords, API tokens and session ids: how they are made, stored and checked.

* Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106's second recommended
  profile); a hash made with older parameters is re-hashed at the next successful login.
* API tokens are ``tg_<id>_<secret>``: ``id`` is public (listed, revoked by it), ``secret`` is
  256 random bits. Only the SHA-256 of the whole token is stored: a token has enough entropy
  that a slow hash would add nothing, and each request can afford to check it. Comparisons are
  constant-time.
* Session ids (the console's cookie) are 256 random bits, stored the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOKEN_PREFIX = "tg_"
_TOKEN = re.compile(r"^tg_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
MIN_PASSWORD_CHARS = 12

_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
"""Verified against when the account does not exist, so timing does not tell names apart."""


def hash_password(password: str) -> str:
    """The Argon2id PHC string of ``password``."""
    return _HASHER.hash(password)


def password_problem(password: str) -> str | None:
    """Why ``password`` is too weak to set, or ``None``."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"a password needs at least {MIN_PASSWORD_CHARS} characters"
    return None


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (``None``: no password; still spends the time)."""
    try:
        return _HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(stored)


def random_password() -> str:
    """A password for a new account (printed once): 20 URL-safe characters, ~120 bits."""
    return secrets.token_urlsafe(15)


def new_token() -> tuple[str, str]:
    """A new API token and its public id: ``(token, id)``."""
    token_id = secrets.token_hex(6)
    return f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}", token_id


def token_id(token: str) -> str | None:
    """The public id of a well-formed token, or ``None``."""
    found = _TOKEN.match(token)
    return found.group(1) if found else None


def digest(secret: str) -> str:
    """SHA-256 of a token or session id, hex: what the database keeps."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same_digest(secret: str, stored: str) -> bool:
    """Whether ``secret`` hashes to ``stored``, compared in constant time."""
    return hmac.compare_digest(digest(secret).encode(), stored.encode())


def new_session_id() -> str:
    """A console session id (the cookie's value)."""
    return secrets.token_urlsafe(32)


def new_csrf_token() -> str:
    """A CSRF token for a session's forms."""
    return secrets.token_urlsafe(32)
