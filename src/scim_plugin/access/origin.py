"""Normalisation and comparison of a tenant's "service origin".

The service origin is a free string an admin enters and the identity provider must send back on every
SCIM request (Braze accepts "any value as long as the same value is sent"). In practice it is usually a
domain or URL, and IdP admins type it inconsistently, so scheme, host case and trailing slashes are
normalised away. Paths keep their case because servers may treat them case-sensitively.
"""

from __future__ import annotations

import hmac
import re
import unicodedata

__all__ = ["MAX_ORIGIN_LENGTH", "normalize_origin", "origins_match"]

MAX_ORIGIN_LENGTH = 255

# RFC 3986 scheme followed by "//": only then is the value treated as a URL whose scheme is dropped.
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


_FORBIDDEN = frozenset("<>\"'`{}|\\^")


def normalize_origin(value: str) -> str:
    """Canonical form of a service origin; raises ``ValueError`` with an admin-readable message.

    ``https://Okta.Example.com/`` and ``okta.example.com`` both become ``okta.example.com``; a port and
    path are kept (``Example.com:8443/Tenant/`` -> ``example.com:8443/Tenant``); a free string such as
    ``My-IdP`` is lowercased.
    """
    text = value.strip()
    if not text:
        raise ValueError("Service origin must not be empty")
    # Length first, so the character scans below are bounded.
    if len(text) > MAX_ORIGIN_LENGTH:
        raise ValueError(f"Service origin must be at most {MAX_ORIGIN_LENGTH} characters (got {len(text)})")
    for char in text:
        # Cf covers invisible characters (zero-width, bidi overrides) that would make two origins look
        # alike; Cs (lone surrogates) cannot be encoded for the constant-time comparison.
        if unicodedata.category(char) in ("Cc", "Cf", "Cs"):
            raise ValueError(f"Service origin must not contain control characters (found U+{ord(char):04X})")
        if char.isspace():
            raise ValueError("Service origin must not contain whitespace")
        if char in _FORBIDDEN:
            # Neither hosts nor URLs contain these; they only ever come from a paste error or an attack.
            raise ValueError(f"Service origin must not contain {char!r}")

    match = _SCHEME.match(text)
    rest = text[match.end() :] if match else text
    # The authority (host[:port]) ends at the first path, query or fragment delimiter.
    split = re.search(r"[/?#]", rest)
    authority, tail = (rest[: split.start()], rest[split.start() :]) if split else (rest, "")
    if match and not authority:
        raise ValueError(f'Service origin "{text}" has a scheme but no host')
    normalized = (authority.lower() + tail).rstrip("/")
    if not normalized:
        raise ValueError(f'Service origin "{text}" is empty once trailing slashes are removed')
    return normalized


def origins_match(expected_normalized: str, presented: str | None) -> bool:
    """Whether a presented origin equals the stored (already normalised) one; invalid input never matches."""
    if presented is None:
        return False
    try:
        candidate = normalize_origin(presented)
    except ValueError:
        return False
    # Constant-time so the comparison does not reveal how much of the expected value was guessed.
    return hmac.compare_digest(candidate.encode("utf-8"), expected_normalized.encode("utf-8"))
