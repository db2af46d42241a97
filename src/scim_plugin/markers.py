"""Pluggy markers.

``hookspec``/``hookimpl`` belong to this plugin's own plugin manager (project ``scim``): the
``scim_*`` extension points. ``host_hookimpl`` marks implementations of the host contract (project
``dashboard``), so the plugin can implement the host's hooks without importing the host.
"""

from __future__ import annotations

import pluggy

PROJECT_NAME = "scim"
ENTRY_POINT_GROUP = "scim_plugin.plugins"
HOST_PROJECT_NAME = "dashboard"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
host_hookimpl = pluggy.HookimplMarker(HOST_PROJECT_NAME)
