"""Validation, normalisation and comparison of a tenant's "service origin".

The service origin is what an admin enters and the identity provider must send back on every SCIM
request. What an admin may *save* is checked by :func:`validate_origin`: a host name (IDNA allowed), a
host and port, or an http(s) URL, of which only the origin (host and port) is kept. What a request
*presents* is only normalised (:func:`normalize_origin`): scheme, host case and trailing slashes are
normalised away, paths keep their case (an origin saved before validation existed may carry one).
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import unicodedata
from urllib.parse import urlsplit

__all__ = ["MAX_ORIGIN_LENGTH", "ORIGIN_FORMS", "normalize_origin", "origins_match", "validate_origin"]

MAX_ORIGIN_LENGTH = 255

# RFC 3986 scheme followed by "//": only then is the value treated as a URL whose scheme is dropped.
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


_FORBIDDEN = frozenset("<>\"'`{}|\\^")

#: The accepted forms, in the words of the settings page's hint and error messages.
ORIGIN_FORMS = "a host name (idp.example.com), a host and port (idp.example.com:8443) or an http(s) URL"

# One DNS label once IDNA-encoded: letters, digits and inner hyphens, at most 63 characters.
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


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


def validate_origin(value: str) -> str:
    """The origin to store for what an admin typed; raises ``ValueError`` with an admin-readable message.

    ``https://Okta.Example.com/app/x`` and ``okta.example.com`` both become ``okta.example.com``;
    ``Example.com:8443`` becomes ``example.com:8443``. Anything that is no host (``idp_example!!``,
    ``urn:okta:tenant``) is refused. The result is its own :func:`normalize_origin` form, so a request
    presenting the saved value (or the URL it was taken from, without a path) matches it.
    """
    normalize_origin(value)  # emptiness, length and characters, with their messages
    text = value.strip()
    scheme = _SCHEME.match(text)
    if scheme and scheme.group(0).lower() not in ("http://", "https://"):
        raise ValueError(f'"{text}" is not a web address: use {ORIGIN_FORMS}.')
    try:
        parts = urlsplit(text if scheme else "//" + text)
    except ValueError:  # an unclosed "[" of an IPv6 literal
        raise ValueError(f'"{text}" is not a host name: use {ORIGIN_FORMS}.') from None
    try:
        port = parts.port
    except ValueError:
        if not parts.netloc.rpartition(":")[2].isdigit():  # "urn:okta:tenant": no port, no host either
            raise ValueError(f'"{text}" is not a host name: use {ORIGIN_FORMS}.') from None
        raise ValueError(f'The port of "{text}" must be a number from 1 to 65535.') from None
    if "@" in parts.netloc:
        raise ValueError("A service origin must not contain a user name or password.")
    host = parts.hostname or ""
    if not host:
        raise ValueError(f'"{text}" has no host name: use {ORIGIN_FORMS}.')
    if port == 0:
        raise ValueError(f'The port of "{text}" must be a number from 1 to 65535.')
    if not _is_host(host):
        raise ValueError(f'"{text}" is not a host name: use {ORIGIN_FORMS}.')
    if ":" in host:  # an IPv6 literal keeps its brackets, so that a port stays unambiguous
        host = f"[{host}]"
    return host + (f":{port}" if port is not None else "")


def _is_host(host: str) -> bool:
    """An IP address or a DNS name whose labels (IDNA-encoded when not ASCII) are letters, digits and
    hyphens."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    try:
        encoded = [label.encode("idna").decode("ascii") if not label.isascii() else label for label in labels]
    except UnicodeError:
        return False
    if len(".".join(encoded)) > 253 or encoded[-1].isdigit():
        return False
    return all(_LABEL.fullmatch(label) for label in encoded)


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
