"""The plugin's HTTP surface: the SCIM API blueprint (``web.api``) and the admin settings page.

Owns request parsing, the one place that turns errors into SCIM responses, the views, the settings
page with its templates and static files, Test connection and the status panel. Built on
:mod:`scim_plugin.access` and the layers below it.
"""
