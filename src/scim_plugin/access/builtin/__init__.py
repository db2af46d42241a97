"""The plugin's default behaviour, shipped as ordinary ``scim_*`` hook implementations.

Each module is registered under the name below; a host blocks one with ``SCIM_BLOCKED_PLUGINS`` (and
usually registers its own replacement through ``SCIM_PLUGINS``).
"""

BUILTIN_PLUGINS: dict[str, str] = {
    "scim.tokens": "scim_plugin.access.builtin.token_store",
    "scim.network": "scim_plugin.access.builtin.network",
    "scim.origin": "scim_plugin.access.builtin.origin_check",
}
