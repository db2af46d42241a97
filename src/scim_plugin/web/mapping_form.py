"""The group-mapping form: reading it, filling it from a mapping, and checking it against the choices
the host offers (workspaces, permission sets, roles, company permissions).
"""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from scim_plugin.storage import group_mapping

MAPPING_FIELDS = ("workspace", "permission_set", "permissions", "role", "company_permissions")


def _split(values: list[str]) -> list[str]:
    """Names from checkboxes or comma-separated text fields, trimmed and de-duplicated."""
    return list(dict.fromkeys(part.strip() for value in values for part in value.split(",") if part.strip()))


def _mapping_form(source: MultiDict[str, str]) -> dict[str, Any]:
    form: dict[str, Any] = {key: source.get(key, "").strip() for key in MAPPING_FIELDS}
    form["company_permissions"] = _split(source.getlist("company_permissions"))
    return form


def _form_from_grants(grants: group_mapping.GroupGrants) -> dict[str, Any]:
    return {
        "workspace": grants.workspace_id or "",
        "permission_set": grants.permission_set or "",
        "permissions": ", ".join(grants.permissions),
        "role": grants.role or "",
        "company_permissions": list(grants.company_permissions),
    }


def _check_mapping(form: dict[str, Any], choices: group_mapping.MappingChoices) -> dict[str, str]:
    """Every problem with the submitted mapping, by field (``mapping``: the form as a whole).

    Names are checked against what the host offers; where it publishes no list, the host checks them
    when it applies the grants (a refusal then rolls everything back).
    """
    problems: dict[str, str] = {}

    def unknown(values: list[str], known: tuple[str, ...] | None) -> list[str]:
        return [] if known is None else [v for v in values if v not in known]

    workspace, permission_set = form["workspace"], form["permission_set"]
    permissions = _split([form["permissions"]])
    if workspace and workspace not in {ws.id for ws in choices.workspaces}:
        problems["workspace"] = "Choose one of this company\u2019s workspaces."
    if permission_set:
        if unknown([permission_set], choices.permission_sets):
            problems["permission_set"] = f"No permission set \u201c{permission_set}\u201d in this company."
        elif not workspace:
            problems["permission_set"] = "A permission set applies to a workspace: choose the workspace too."
    if permissions:
        if bad := unknown(permissions, choices.workspace_permissions):
            problems["permissions"] = "Unknown workspace permission: " + ", ".join(bad) + "."
        elif permission_set:
            problems["permissions"] = "Give either a permission set or workspace permissions, not both."
        elif not workspace:
            problems["permissions"] = "Permissions apply to a workspace: choose the workspace too."
    if form["role"] and unknown([form["role"]], choices.roles):
        problems["role"] = f"No role \u201c{form['role']}\u201d in this company."
    if bad := unknown(form["company_permissions"], choices.company_permissions):
        problems["company_permissions"] = "Unknown company permission: " + ", ".join(bad) + "."
    if not problems and not (workspace or form["role"] or form["company_permissions"]):
        problems["mapping"] = (
            "Choose what the group grants: a workspace, a role or company permissions. "
            "To stop granting anything, remove the mapping."
        )
    return problems
