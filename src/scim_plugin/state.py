"""The plugin's per-application state, which every layer reads: ``get_state()`` and the signing keys.

It sits below all the layers so that none of them imports the wiring (:mod:`scim_plugin.extension`)
to reach it; the wiring builds the state and puts it in ``app.extensions["scim"]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy
from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy

from scim_plugin.config import ScimConfig

if TYPE_CHECKING:  # for the annotations only: the wiring hands the objects in
    from scim_plugin.access.audit import AuditBuffer
    from scim_plugin.access.ratelimit import TenantRateLimiter
    from scim_plugin.storage.sqlite_writers import WriterQueue

EXTENSION_KEY = "scim"


@dataclass
class ScimState:
    """Everything the plugin keeps per application, in ``app.extensions["scim"]``."""

    config: ScimConfig
    pm: pluggy.PluginManager
    db: SQLAlchemy
    audit_buffer: AuditBuffer
    rate_limiter: TenantRateLimiter | None = None
    # Token ids whose last-used time was written recently (see access.builtin.token_store).
    last_used_written: dict[str, float] = field(default_factory=dict)
    # The SQLite writers' queue of the plugin's database, or None (see storage.sqlite_writers).
    writer_queue: WriterQueue | None = None

    @property
    def hook(self) -> Any:
        return self.pm.hook


def signing_keys() -> Sequence[str | bytes]:
    """The app secret and its fallbacks, newest first: what signs SCIM tokens and cursors, so rotating
    ``SECRET_KEY`` (the old key kept in ``SECRET_KEY_FALLBACKS``) keeps both valid."""
    keys = [current_app.secret_key, *(current_app.config.get("SECRET_KEY_FALLBACKS") or ())]
    usable = [key for key in keys if key]
    if not usable:
        raise RuntimeError("SECRET_KEY must be set to sign SCIM tokens and cursors")
    return usable


def get_state(app: Flask | None = None) -> ScimState:
    """The plugin state of ``app`` (default: the current app)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        return app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError(
            "scim-plugin is not initialised on this app; call ScimPlugin().init_app(app)"
        ) from None
