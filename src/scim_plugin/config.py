"""``SCIM_*`` configuration: names, defaults and validation.

Read once by ``ScimPlugin.init_app`` into a frozen :class:`ScimConfig`; invalid values fail at start-up
with a :class:`ConfigError` naming the key, never at the first request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from limits import parse
from limits.storage import storage_from_string

from scim_plugin.ip import AllowlistError, IpAllowlist, parse_allowlist

#: The settings page's Content-Security-Policy: its own scripts, styles and images only, never framed.
ADMIN_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

DEFAULTS: dict[str, Any] = {
    "SCIM_URL_PREFIX": "/scim/v2",
    "SCIM_ADMIN_URL_PREFIX": "/settings/admin/scim",
    "SCIM_ADMIN_LAYOUT": "layout.html",
    "SCIM_ADMIN_CSP": ADMIN_CSP,
    "SCIM_DEFAULT_PAGE_SIZE": 100,
    "SCIM_MAX_RESULTS": 1000,
    "SCIM_CURSOR_TIMEOUT": 3600,
    "SCIM_MAX_BODY_BYTES": 1024 * 1024,
    "SCIM_MAX_FILTER_LENGTH": 4096,
    "SCIM_MAX_FILTER_DEPTH": 24,
    "SCIM_TRUSTED_PROXIES": "",
    "SCIM_CLIENT_IP_HEADERS": ("X-Forwarded-For", "X-Origin-Request"),
    "SCIM_TOKEN_ROTATION_GRACE": 0,
    "SCIM_TOKEN_LAST_USED_INTERVAL": 60,
    "SCIM_RATE_LIMIT": "5000 per day",
    "SCIM_RATE_LIMIT_STORAGE_URI": "memory://",
    "SCIM_AUDIT_READS": False,
    "SCIM_AUDIT_RETENTION_DAYS": 90,
    "SCIM_RESPONSE_STYLE": "scim",
    "SCIM_PATCH_RESPONSE": 200,
    "SCIM_GROUP_PATCH_RESPONSE": 204,
    "SCIM_PASSWORD": "ignore",
    "SCIM_MAX_GROUP_MEMBERS_RETURNED": 10_000,
    "SCIM_BULK_MAX_OPERATIONS": 1000,
    "SCIM_BULK_MAX_PAYLOAD_BYTES": 1024 * 1024,
    "SCIM_SQLITE_WRITER_QUEUE": True,
    "SCIM_PLUGINS": (),
    "SCIM_BLOCKED_PLUGINS": (),
}

RESPONSE_STYLES = ("scim", "braze")
PASSWORD_POLICIES = ("ignore", "host")
_PREFIX = re.compile(r"^/[A-Za-z0-9._~/-]*[A-Za-z0-9._~-]$")


def _valid_storage(uri: str) -> bool:
    # Storages connect lazily, so this checks the scheme and options without touching the network.
    try:
        storage_from_string(uri)
    except Exception:
        return False
    return True


def _valid_rate(text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


class ConfigError(ValueError):
    """Invalid ``SCIM_*`` configuration; the message names the key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key


@dataclass(frozen=True)
class ScimConfig:
    url_prefix: str
    admin_url_prefix: str
    admin_layout: str
    default_page_size: int
    max_results: int
    max_body_bytes: int
    max_filter_length: int
    max_filter_depth: int
    trusted_proxies: IpAllowlist
    client_ip_headers: tuple[str, ...]
    token_rotation_grace: int
    token_last_used_interval: int
    rate_limit: str
    rate_limit_storage_uri: str
    audit_reads: bool
    audit_retention_days: int
    response_style: str
    patch_response: int
    group_patch_response: int
    password: str
    plugins: tuple[str, ...]
    blocked_plugins: tuple[str, ...]
    # Largest member list a group response carries (see docs/api.md, "Groups").
    max_group_members_returned: int = 10_000
    # Seconds a cursor (RFC 9865) stays valid.
    cursor_timeout: int = 3600
    # POST /Bulk (RFC 7644 §3.7): most operations per request (0 turns /Bulk off) and its body limit.
    bulk_max_operations: int = 1000
    bulk_max_payload_bytes: int = 1024 * 1024
    # SQLite files: writers queue on a lock file instead of polling SQLite's busy handler (sqlite_writers).
    sqlite_writer_queue: bool = True
    # The settings page's Content-Security-Policy header (a host layout loading other sources widens it).
    admin_csp: str = ADMIN_CSP

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> ScimConfig:
        """Validate the ``SCIM_*`` keys of ``config`` (defaults fill the gaps)."""
        unknown = sorted(k for k in config if k.startswith("SCIM_") and k not in DEFAULTS)
        if unknown:
            raise ConfigError(unknown[0], f"unknown setting (known: {', '.join(sorted(DEFAULTS))})")

        def get(key: str) -> Any:
            return config.get(key, DEFAULTS[key])

        def integer(key: str, low: int, high: int) -> int:
            value = get(key)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(key, f"must be an integer from {low} to {high}, got {value!r}")
            return value

        def prefix(key: str) -> str:
            value = get(key)
            if not isinstance(value, str) or not _PREFIX.match(value):
                raise ConfigError(
                    key, f"must be a URL path such as '/scim/v2' (no trailing slash), got {value!r}"
                )
            return value

        def names(key: str) -> tuple[str, ...]:
            value = get(key)
            if isinstance(value, str):
                value = [part.strip() for part in value.split(",") if part.strip()]
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
                raise ConfigError(key, f"must be a list of names, got {value!r}")
            return tuple(value)

        def template_name(key: str) -> str:
            value = get(key)
            if not isinstance(value, str) or not value.endswith(".html"):
                raise ConfigError(key, f"must be the name of the host's layout template, got {value!r}")
            return value

        def choice(key: str, allowed: tuple[Any, ...]) -> Any:
            value = get(key)
            if value not in allowed:
                raise ConfigError(key, f"must be one of {', '.join(map(repr, allowed))}, got {value!r}")
            return value

        proxies = get("SCIM_TRUSTED_PROXIES")
        if isinstance(proxies, list | tuple):
            proxies = ",".join(proxies)
        if not isinstance(proxies, str):
            raise ConfigError("SCIM_TRUSTED_PROXIES", f"must be a string or a list, got {proxies!r}")
        try:
            trusted = parse_allowlist(proxies)
        except AllowlistError as exc:
            raise ConfigError("SCIM_TRUSTED_PROXIES", exc.describe()) from None

        rate = get("SCIM_RATE_LIMIT")
        if not isinstance(rate, str) or not (rate.strip().lower() == "off" or _valid_rate(rate)):
            raise ConfigError("SCIM_RATE_LIMIT", f"must look like '5000 per day' or be 'off', got {rate!r}")
        storage = get("SCIM_RATE_LIMIT_STORAGE_URI")
        if not isinstance(storage, str) or not _valid_storage(storage):
            raise ConfigError(
                "SCIM_RATE_LIMIT_STORAGE_URI", f"must be a storage URI such as 'memory://', got {storage!r}"
            )
        audit_reads, writer_queue = get("SCIM_AUDIT_READS"), get("SCIM_SQLITE_WRITER_QUEUE")
        for key, flag in (("SCIM_AUDIT_READS", audit_reads), ("SCIM_SQLITE_WRITER_QUEUE", writer_queue)):
            if not isinstance(flag, bool):
                raise ConfigError(key, f"must be true or false, got {flag!r}")

        csp = get("SCIM_ADMIN_CSP")
        if not isinstance(csp, str) or "frame-ancestors" not in csp or "\n" in csp:
            raise ConfigError("SCIM_ADMIN_CSP", "must be a one-line policy that keeps frame-ancestors")

        max_results = integer("SCIM_MAX_RESULTS", 1, 100_000)
        page_size = integer("SCIM_DEFAULT_PAGE_SIZE", 1, 100_000)
        if page_size > max_results:
            raise ConfigError("SCIM_DEFAULT_PAGE_SIZE", f"must not exceed SCIM_MAX_RESULTS ({max_results})")
        return cls(
            url_prefix=prefix("SCIM_URL_PREFIX"),
            admin_url_prefix=prefix("SCIM_ADMIN_URL_PREFIX"),
            admin_layout=template_name("SCIM_ADMIN_LAYOUT"),
            admin_csp=csp.strip(),
            default_page_size=page_size,
            max_results=max_results,
            max_body_bytes=integer("SCIM_MAX_BODY_BYTES", 1024, 1024 * 1024 * 1024),
            max_filter_length=integer("SCIM_MAX_FILTER_LENGTH", 16, 1024 * 1024),
            max_filter_depth=integer("SCIM_MAX_FILTER_DEPTH", 1, 256),
            trusted_proxies=trusted,
            client_ip_headers=names("SCIM_CLIENT_IP_HEADERS"),
            token_rotation_grace=integer("SCIM_TOKEN_ROTATION_GRACE", 0, 30 * 24 * 3600),
            token_last_used_interval=integer("SCIM_TOKEN_LAST_USED_INTERVAL", 0, 24 * 3600),
            rate_limit=rate.strip(),
            rate_limit_storage_uri=storage,
            audit_reads=audit_reads,
            audit_retention_days=integer("SCIM_AUDIT_RETENTION_DAYS", 1, 36500),
            response_style=choice("SCIM_RESPONSE_STYLE", RESPONSE_STYLES),
            patch_response=choice("SCIM_PATCH_RESPONSE", (200, 204)),
            group_patch_response=choice("SCIM_GROUP_PATCH_RESPONSE", (200, 204)),
            password=choice("SCIM_PASSWORD", PASSWORD_POLICIES),
            plugins=names("SCIM_PLUGINS"),
            blocked_plugins=names("SCIM_BLOCKED_PLUGINS"),
            max_group_members_returned=integer("SCIM_MAX_GROUP_MEMBERS_RETURNED", 0, 1_000_000),
            cursor_timeout=integer("SCIM_CURSOR_TIMEOUT", 10, 7 * 24 * 3600),
            bulk_max_operations=integer("SCIM_BULK_MAX_OPERATIONS", 0, 100_000),
            bulk_max_payload_bytes=integer("SCIM_BULK_MAX_PAYLOAD_BYTES", 1024, 1024 * 1024 * 1024),
            sqlite_writer_queue=writer_queue,
        )
