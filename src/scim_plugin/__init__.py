"""scim-plugin: SCIM 2.0 automated user provisioning for pluggy-based Flask hosts."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from scim_plugin.extension import ScimPlugin
from scim_plugin.markers import hookimpl, hookspec
from scim_plugin.state import get_state
from scim_plugin.storage.host_sync import provisioning_of, user_changed, user_deleted

try:
    __version__ = version("scim-plugin")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

__all__ = [
    "ScimPlugin",
    "__version__",
    "get_state",
    "hookimpl",
    "hookspec",
    "provisioning_of",
    "user_changed",
    "user_deleted",
]
