"""scim-plugin: SCIM 2.0 automated user provisioning for pluggy-based Flask hosts."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .extension import ScimPlugin, get_state
from .markers import hookimpl, hookspec

try:
    __version__ = version("scim-plugin")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

__all__ = ["ScimPlugin", "__version__", "get_state", "hookimpl", "hookspec"]
