"""SCIM bearer tokens: issuing, parsing, and verification against a stored verifier.

Format::

    scim_<token_id>.<signature>.<secret>

* ``scim_`` is a fixed prefix so secret scanners (GitHub, GitLab, trufflehog…) can recognise leaked tokens.
* ``token_id`` is 16 random bytes, base64url without padding (22 chars). It is the database lookup key and
  is not secret.
* ``signature`` is an itsdangerous HMAC-SHA256 signature over ``token_id`` (salt ``"scim-plugin.token"``)
  keyed from Flask's ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS``. Base64url never contains ``.``, so the
  three parts split unambiguously.
* ``secret`` is 32 random bytes, base64url without padding (43 chars).

What is stored: only ``token_id`` and ``verifier = sha256(secret)`` (hex). The secret carries 256 bits of
entropy, so a fast hash is sufficient: brute-forcing it is infeasible regardless of hash speed, and a slow
password hash (bcrypt, scrypt) would only add per-request latency and a CPU denial-of-service lever.

What the signature protects against: forged, mangled or truncated tokens are rejected without touching the
database, so an attacker spraying random tokens cannot turn the SCIM endpoint into a database load
generator or probe which token ids exist. Keys are tried newest first, so rotating ``SECRET_KEY`` while
keeping the old key in ``SECRET_KEY_FALLBACKS`` does not break configured identity providers.

What it does not protect against: a leaked ``SECRET_KEY`` lets an attacker sign arbitrary *token ids*, but
that only gets past the pre-check; a usable token still needs the secret matching the stored verifier.
A leaked database yields token ids and verifiers only; recovering a secret from its SHA-256 is infeasible.
Authentication therefore rests on the secret; the signature is a cheap, database-free filter.

The ``hint`` (last four characters, stored for masked display) comes from the secret; revealing 24 of its
256 bits leaves it far beyond brute force.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from itsdangerous import Signer

__all__ = [
    "MAX_TOKEN_LENGTH",
    "SALT",
    "TOKEN_PREFIX",
    "IssuedToken",
    "PresentedToken",
    "TokenInvalid",
    "compute_verifier",
    "issue_token",
    "mask",
    "parse_authorization_header",
    "parse_token",
    "verify_secret",
]

TOKEN_PREFIX = "scim_"
SALT = "scim-plugin.token"
#: Anything longer is rejected before any parsing or cryptography; real tokens are ~115 characters.
MAX_TOKEN_LENGTH = 256

_TOKEN_ID_BYTES = 16
_SECRET_BYTES = 32
# Unpadded base64url lengths of the random parts; checked so truncated tokens fail without a DB lookup.
_TOKEN_ID_LENGTH = 22
_SECRET_LENGTH = 43
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_MASK = "••••••"

TokenInvalidReason = Literal["malformed", "bad_signature"]


class TokenInvalid(Exception):
    """A presented token is unusable. ``reason`` is ``"malformed"`` or ``"bad_signature"``."""

    def __init__(self, reason: TokenInvalidReason, message: str) -> None:
        super().__init__(message)
        self.reason: TokenInvalidReason = reason


@dataclass(frozen=True)
class IssuedToken:
    """A freshly issued token. ``token`` is shown to the admin once; only the rest is stored."""

    token: str
    token_id: str
    verifier: str
    hint: str

    def __repr__(self) -> str:
        # Keep the full token out of logs and tracebacks.
        return f"IssuedToken(token_id={self.token_id!r}, hint={self.hint!r})"


@dataclass(frozen=True)
class PresentedToken:
    """A syntactically valid, correctly signed token as received; the secret is still unverified."""

    token_id: str
    secret: str

    def __repr__(self) -> str:
        return f"PresentedToken(token_id={self.token_id!r})"


def _signer(secret_keys: Sequence[str | bytes]) -> Signer:
    if isinstance(secret_keys, str | bytes):
        # A bare string is a Sequence too; iterating it would silently use single characters as keys.
        raise TypeError("secret_keys must be a sequence of keys, not a single key")
    keys = list(secret_keys)
    if not keys or any(not key for key in keys):
        raise ValueError("At least one non-empty secret key is required to sign SCIM tokens")
    # Our API takes keys newest first (SECRET_KEY, *SECRET_KEY_FALLBACKS); itsdangerous wants newest last.
    return Signer(list(reversed(keys)), salt=SALT, key_derivation="hmac", digest_method=hashlib.sha256)


def compute_verifier(secret: str) -> str:
    """The value stored for a secret: SHA-256 hex (fast hash is fine for 256-bit random secrets)."""
    # surrogatepass: never raise on odd input; such a secret simply matches nothing.
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def issue_token(secret_keys: Sequence[str | bytes]) -> IssuedToken:
    """Create a new token signed with the newest key (``secret_keys`` is newest first)."""
    signer = _signer(secret_keys)
    token_id = secrets.token_urlsafe(_TOKEN_ID_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    signature = signer.get_signature(token_id).decode("ascii")
    token = f"{TOKEN_PREFIX}{token_id}.{signature}.{secret}"
    return IssuedToken(token=token, token_id=token_id, verifier=compute_verifier(secret), hint=token[-4:])


def parse_token(token: str, secret_keys: Sequence[str | bytes]) -> PresentedToken:
    """Split and signature-check a presented token; raises ``TokenInvalid`` and nothing else for bad input."""
    signer = _signer(secret_keys)
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise TokenInvalid("malformed", "Token is not a string of acceptable length")
    if not token.isascii() or not token.startswith(TOKEN_PREFIX):
        raise TokenInvalid("malformed", "Token does not have the expected format")
    parts = token[len(TOKEN_PREFIX) :].split(".")
    if len(parts) != 3 or not all(_BASE64URL.fullmatch(part) for part in parts):
        raise TokenInvalid("malformed", "Token does not have the expected format")
    token_id, signature, secret = parts
    if len(token_id) != _TOKEN_ID_LENGTH or len(secret) != _SECRET_LENGTH:
        raise TokenInvalid("malformed", "Token does not have the expected format")
    if not signer.verify_signature(token_id, signature):
        raise TokenInvalid("bad_signature", "Token signature is invalid")
    return PresentedToken(token_id=token_id, secret=secret)


def verify_secret(secret: str, verifier: str) -> bool:
    """Constant-time check of a presented secret against the stored verifier."""
    computed = compute_verifier(secret).encode("ascii")
    return hmac.compare_digest(computed, verifier.encode("utf-8", "surrogatepass"))


def mask(hint: str) -> str:
    """Masked display form of a token, e.g. ``scim_••••••abcd``."""
    return f"{TOKEN_PREFIX}{_MASK}{hint}"


def parse_authorization_header(value: str | None) -> str | None:
    """Extract the token from ``Authorization: Bearer <token>``; None if absent, empty or another scheme."""
    if value is None:
        return None
    parts = value.split()
    # Exactly scheme + credentials; extra words mean a malformed header, not a token with spaces in it.
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    return parts[1]
