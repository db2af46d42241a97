"""The hooks scim-plugin defines (its extension points).

All are called with keyword arguments. Each docstring states how results combine and what ``None``
means. ``hooks/scim_hooks.md`` documents every hook here under a heading equal to its signature; a
test fails when the two drift apart.

Built-in implementations live in :mod:`scim_plugin.access.builtin` and are registered under the names in
:data:`scim_plugin.access.builtin.BUILTIN_PLUGINS`, so a host can block (``SCIM_BLOCKED_PLUGINS``) or
override them (register its own with ``tryfirst=True``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scim_plugin.markers import hookspec

if TYPE_CHECKING:
    from collections.abc import Iterable

    from flask import Request

    from scim_plugin.ip import IpAllowlist
    from scim_plugin.seam import (
        AdminIdentity,
        HostUserInfo,
        HostUserState,
        IssuedCredential,
        ManualUser,
        Permissions,
        Ref,
        ScimEvent,
        TokenIdentity,
        UserChange,
        WorkspaceInfo,
    )


# -- The seam to the host's users and workspaces ----------------------------------------------------


@hookspec(firstresult=True)
def scim_create_user(tenant_id: str, user: UserChange) -> str | None:
    """Create the host user for a newly provisioned SCIM user and return its host id.

    Runs inside the provisioning transaction, before the SCIM row is written: raise a
    :class:`~scim_plugin.core.errors.ScimError` (for example ``InvalidValue`` naming an unknown workspace, or
    ``Uniqueness`` for a taken email) to refuse, and nothing is written. The first non-``None``
    result wins; ``None`` means "not mine". If no implementation answers, the request fails with 501.
    """


@hookspec(firstresult=True)
def scim_update_user(tenant_id: str, host_user_id: str, user: UserChange) -> bool | None:
    """Bring the host user in line with ``user`` (names, department, active flag, permissions).

    ``user.permissions`` is ``None`` when the request did not touch permissions. Runs inside the
    provisioning transaction; raise a ``ScimError`` to refuse. Return ``True`` when handled; the first
    non-``None`` result wins; ``None`` means "not mine".
    """


@hookspec(firstresult=True)
def scim_delete_user(tenant_id: str, host_user_id: str) -> bool | None:
    """Delete (deprovision) the host user.

    Runs inside the provisioning transaction, after the SCIM row's DELETE. Raise
    :class:`~scim_plugin.core.errors.HostRefused` to refuse (for example for a company's last user); the
    request rolls back and the SCIM resource is kept. Return ``True`` when handled; the first
    non-``None`` result wins.
    """


@hookspec(firstresult=True)
def scim_resolve_workspace(tenant_id: str, ref: Ref) -> WorkspaceInfo | None:
    """Find the tenant's workspace that ``ref`` points at (by id or by name).

    The first non-``None`` result wins; ``None`` from every implementation means "no such workspace".
    Implementations must only ever return workspaces of ``tenant_id``.
    """


@hookspec(firstresult=True)
def scim_list_workspaces(tenant_id: str) -> list[WorkspaceInfo] | None:
    """The tenant's workspaces, for the settings page's default-workspace choice.

    The first non-``None`` result wins; ``None`` means "not mine".
    """


@hookspec(firstresult=True)
def scim_canonical_values(tenant_id: str) -> dict[str, list[str]] | None:
    """Values the tenant accepts, published as ``canonicalValues`` in ``/Schemas``.

    Keys are attribute paths (``urn:...:permissions:2.0:User:workspaces.value``); values are the ids,
    names or permission strings the host knows for this tenant, so an IdP's attribute-mapping screen can
    offer them. The first non-``None`` result wins; ``None`` means "publish the schema as it is".
    """


@hookspec(firstresult=True)
def scim_value_aliases(tenant_id: str) -> dict[str, dict[str, str]] | None:
    """Other spellings the tenant accepts for values published by ``scim_canonical_values``.

    Keys are the same attribute paths; values map an alias to its published value (Braze's
    ``delete_media_library_asset`` to ``delete_media_library_assets``). The group-mapping form and
    ``flask scim group map`` take an alias and save the published value; ``/Schemas`` publishes only the
    values. The first non-``None`` result wins; ``None`` means the tenant accepts no other spelling.
    """


@hookspec(firstresult=True)
def scim_host_user_info(tenant_id: str, host_user_id: str) -> HostUserInfo | None:
    """Read-only facts the host keeps about a user (such as the last sign-in time).

    The first non-``None`` result wins; ``None`` means the host has nothing to add.
    """


@hookspec(firstresult=True)
def scim_host_user_url(tenant_id: str, host_user_id: str) -> str | None:
    """The URL of the host's own page for a user, for the admin's activity page to link to.

    Called while a page is rendered (a request context is active), once per user on the page: build the
    URL, do not query for it. The first non-``None`` result wins; ``None`` means the host has no such
    page, and the activity page names the user without a link.
    """


@hookspec(firstresult=True)
def scim_user_state(tenant_id: str, host_user_id: str) -> HostUserState | None:
    """What the dashboard holds for the user now (the attributes the host owns), as a ``HostUserState``.

    Asked after every SCIM write reached the host (``scim_create_user``, ``scim_update_user``,
    ``scim_apply_group_grants``), in the same transaction, and when the host reports a change of its own
    (``scim_plugin.user_changed``): what it answers is what every SCIM response, lookup and filter shows
    of the user from then on. Cheap to answer right after a write the host just made (it knows what it
    wrote); its ``permissions`` or ``group_grants`` may be ``None`` when that write left them alone.
    The first non-``None`` result wins; ``None`` means the host keeps no state of its own beyond what it
    was told, and the document shows what the client sent (with the default workspace it joined).
    """


@hookspec(firstresult=True)
def scim_link_user(tenant_id: str, host_user_id: str) -> bool | None:
    """An existing dashboard user, exposed by the ``match`` policy, is now managed by SCIM.

    Called once, in the transaction of the first SCIM write to that user (or of the ``POST`` that named
    its email), before ``scim_update_user``: the host marks the user as provisioned (Braze shows it as
    created by SCIM from then on). Raise a ``ScimError`` to refuse the take-over. Return ``True`` when
    handled; the first non-``None`` result wins; ``None`` means the host keeps no such mark.
    """


@hookspec(firstresult=True)
def scim_manual_users(tenant_id: str) -> Iterable[ManualUser] | None:
    """The tenant's dashboard users that no identity provider created (made by hand), for the
    ``match`` policy to expose. Only users of ``tenant_id``: never another company's.

    Read when an admin switches the company to ``match``; may be a generator (it is consumed in
    batches). The first non-``None`` result wins; ``None`` means the host has no such users to offer.
    """


@hookspec(firstresult=True)
def scim_count_manual_users(tenant_id: str) -> int | None:
    """How many users ``scim_manual_users`` would list: the settings page shows it before the admin
    chooses ``match``. The first non-``None`` result wins; ``None`` means the host does not count them.
    """


@hookspec(firstresult=True)
def scim_resolve_tenant(key: str) -> str | None:
    """The tenant id for ``key`` as an operator types it on the command line (e.g. a company slug).

    The first non-``None`` result wins; ``None`` from every implementation means "no such tenant".
    """


@hookspec(firstresult=True)
def scim_current_admin() -> AdminIdentity | None:
    """The host user signed in to the current request, for the admin settings page.

    The first non-``None`` result wins; ``None`` means nobody is signed in (the page answers 401 or
    redirects as the host's login flow requires).
    """


@hookspec(firstresult=True)
def scim_apply_group_grants(tenant_id: str, host_user_id: str, grants: Permissions) -> bool | None:
    """Give the host user exactly what its mapped SCIM groups grant, on top of its own permissions.

    ``grants`` is the union of the grants of every mapped group the user is now a member of (company
    permissions and roles de-duplicated, one ``WorkspaceGrant`` per mapped group and workspace, in group
    creation order); an empty ``Permissions()`` means no mapped group grants anything any more, so
    whatever groups granted before must go. The user's own permissions (from ``scim_create_user`` /
    ``scim_update_user``) are not part of ``grants`` and must be kept. Called for each user whose
    grants may have changed (joined or left a mapped group, a mapping changed, a mapped group was
    deleted); calls are idempotent. Runs inside the provisioning transaction: raise a ``ScimError`` to
    refuse, and the membership change (or the mapping change, for every member) is rolled back.
    Return ``True`` when handled; the first non-``None`` result wins; ``None`` means "not mine", and
    with no answer at all the change fails with 501. Never called for unmapped groups.
    """


# -- Access control ---------------------------------------------------------------------------------


@hookspec(firstresult=True)
def scim_issue_token(tenant_id: str, issued_by: str | None) -> IssuedCredential | None:
    """Issue the tenant's SCIM token, replacing (revoking) any previous one.

    The plain token is returned once and must not be stored. The first non-``None`` result wins, so a
    host can replace the built-in token service; ``None`` means "not mine".
    """


@hookspec(firstresult=True)
def scim_verify_token(token: str) -> TokenIdentity | None:
    """Resolve a presented bearer token to the tenant it acts for.

    Three outcomes: a :class:`~scim_plugin.seam.TokenIdentity` accepts; raising
    :class:`~scim_plugin.seam.TokenRejected` refuses (the reason goes to the audit trail only);
    ``None`` means "not a token I know", and when every implementation says so the request is refused.
    """


@hookspec
def scim_token_used(tenant_id: str, token_id: str, address: str | None) -> None:
    """A request with this token passed every check (token, origin, IP allowlist): record the use.

    Called once per accepted request, never for a refused one, so a refusal (a wrong origin, an address
    outside the allowlist) neither counts as a use nor delays the recording of the next accepted call.
    The built-in token service writes the token's last-used time and address here; return values are
    ignored.
    """


@hookspec(firstresult=True)
def scim_revoke_tokens(tenant_id: str) -> int | None:
    """Revoke every token of the tenant at once and return how many were revoked.

    The first non-``None`` result wins; ``None`` means "not mine".
    """


@hookspec(firstresult=True)
def scim_client_ip(request: Request, trusted_proxies: IpAllowlist) -> str | None:
    """The client address a SCIM request is checked against.

    The built-in implementation trusts forwarding headers only when the socket peer is one of
    ``trusted_proxies``. The first non-``None`` result wins; ``None`` from all means "use the socket
    peer address".
    """


@hookspec
def scim_ip_allowed(tenant_id: str, address: str | None, allowlist: IpAllowlist) -> bool | None:
    """May a request from ``address`` act for the tenant?

    Veto rule: any ``False`` denies, otherwise allowed; ``None`` is no opinion. An exception raised by
    any implementation denies the request (fail closed).
    """


@hookspec
def scim_origin_allowed(tenant_id: str, presented: str | None, expected: str) -> bool | None:
    """Does the request's ``X-Request-Origin`` (``presented``) match the tenant's service origin?

    Called only for tenants whose provisioning method is ``custom``: Entra ID and Okta cannot send the
    header, so for ``entra`` and ``okta`` tenants it is neither required nor looked at, and this hook is
    not called. Veto rule as for :func:`scim_ip_allowed`: any ``False`` denies, an exception denies,
    ``None`` is no opinion. With no opinion at all the request is denied, since a ``custom`` tenant's
    origin is always required.
    """


# -- Events -----------------------------------------------------------------------------------------


@hookspec
def scim_event(event: ScimEvent) -> None:
    """Observe a provisioning change, a token change or an audited request.

    Called after the change is committed (a host can ship events to its own audit store). Return values
    are ignored; an exception is logged and never fails the SCIM request.
    """
