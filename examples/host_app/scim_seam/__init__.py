"""The dashboard's side of scim-plugin's host seam: how SCIM users become dashboard users.

Registered into the plugin's own plugin manager through ``SCIM_PLUGINS`` (only when the SCIM plugin is
loaded), as this one package: pluggy finds the hook implementations imported below. Marked with the
plugin's project name, so the host does not import the plugin package; the errors it raises are the
plugin's SCIM errors, imported lazily where a refusal needs one.

A host developer copies this folder and reads one hook at a time:

=====================  ===========================================================================
``tenants``            ``scim_resolve_tenant``, ``scim_current_admin``
``workspaces``         ``scim_list_workspaces``, ``scim_resolve_workspace``, ``scim_value_aliases``,
                       ``scim_canonical_values``
``create_user``        ``scim_create_user``
``update_user``        ``scim_update_user``
``delete_user``        ``scim_delete_user``
``host_users``         ``scim_host_user_info``, ``scim_host_user_url``, ``scim_apply_group_grants``
``user_state``         ``scim_user_state``, ``scim_link_user``, ``scim_manual_users``,
                       ``scim_count_manual_users``: the dashboard's truth told back
``grants``             SCIM permissions to the dashboard's rows and back (used by the user hooks)
``memberships``        the workspace-membership statements of a new user
``postgresql``         the server-database fast paths, apart from the plain version
``mysql``              the user delete on MariaDB and MySQL (under the company lock)
``common``             the hook marker, lazy plugin imports, lookups by id or name
=====================  ===========================================================================
"""

from __future__ import annotations

from .create_user import scim_create_user
from .delete_user import scim_delete_user
from .host_users import scim_apply_group_grants, scim_host_user_info, scim_host_user_url
from .tenants import scim_current_admin, scim_resolve_tenant
from .update_user import scim_update_user
from .user_state import scim_count_manual_users, scim_link_user, scim_manual_users, scim_user_state
from .workspaces import (
    scim_canonical_values,
    scim_list_workspaces,
    scim_resolve_workspace,
    scim_value_aliases,
)

__all__ = [
    "scim_apply_group_grants",
    "scim_canonical_values",
    "scim_count_manual_users",
    "scim_create_user",
    "scim_current_admin",
    "scim_delete_user",
    "scim_host_user_info",
    "scim_host_user_url",
    "scim_link_user",
    "scim_list_workspaces",
    "scim_manual_users",
    "scim_resolve_tenant",
    "scim_resolve_workspace",
    "scim_update_user",
    "scim_user_state",
    "scim_value_aliases",
]
