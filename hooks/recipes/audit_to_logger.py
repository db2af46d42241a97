"""Ship every ``scim_event`` to a Python logger, as one JSON line per event.

Enable with ``SCIM_PLUGINS = ["examples.host_app.scim_seam", "hooks.recipes.audit_to_logger"]`` and route
the ``scim.events`` logger wherever the host's audit store lives (syslog, a SIEM forwarder, ...).

Events arrive after the change is committed. An observer that raises is logged by the plugin and never
fails the SCIM request, but it should not raise: log what you can.
"""

from __future__ import annotations

import json
import logging

from scim_plugin import hookimpl
from scim_plugin.seam import ScimEvent

logger = logging.getLogger("scim.events")


@hookimpl
def scim_event(event: ScimEvent) -> None:
    level = logging.WARNING if event.name == "request.refused" else logging.INFO
    payload = {"event": event.name, "tenant": event.tenant_id, **event.data}
    logger.log(level, json.dumps(payload, default=str, sort_keys=True), extra={"scim_event": event})
