"""Value objects that cross the seam between the plugin and its host.

Hook implementations receive and return these instead of ORM objects, so a host can back them with
any model and the plugin never imports the host.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Ref:
    """A pointer to a host object by id and/or name, as a SCIM client wrote it."""

    id: str | None = None
    name: str | None = None

    def describe(self) -> str:
        return f'id "{self.id}"' if self.id is not None else f'name "{self.name}"'


@dataclass(frozen=True)
class WorkspaceGrant:
    workspace: Ref
    permissions: tuple[str, ...] = ()
    permission_set: Ref | None = None


@dataclass(frozen=True)
class TeamGrant:
    team: Ref
    workspace: Ref | None = None
    permissions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Permissions:
    """What a SCIM client asked the user to be allowed to do (Braze's permissions object)."""

    company_permissions: tuple[str, ...] = ()
    roles: tuple[Ref, ...] = ()
    workspaces: tuple[WorkspaceGrant, ...] = ()
    teams: tuple[TeamGrant, ...] = ()


@dataclass(frozen=True)
class UserChange:
    """The host-relevant part of a SCIM User after a create or update."""

    user_name: str
    given_name: str | None = None
    family_name: str | None = None
    display_name: str | None = None
    department: str | None = None
    active: bool = True
    emails: tuple[str, ...] = ()
    # None: the request said nothing about permissions, keep what the host has.
    permissions: Permissions | None = None
    # The whole SCIM resource, for hosts that map more attributes.
    resource: dict[str, Any] = field(default_factory=dict, compare=False)
    # Only set when the host opted in with SCIM_PASSWORD = "host"; never logged (repr=False).
    password: str | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class HostUserState:
    """What the dashboard holds for a user now: what SCIM answers about the attributes the host owns.

    Returned by ``scim_user_state``. References carry both id and name where the host knows them (a
    response shows ``value`` and ``display``). ``permissions`` are the user's own (set by SCIM or by an
    admin by hand); ``group_grants`` what its mapped SCIM groups add on top, shown apart so that a client
    writing permissions back never turns a group's grant into the user's own. Either is ``None`` when
    the host did not look at it for this answer: the document keeps what it shows.
    """

    user_name: str
    email: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    department: str | None = None
    active: bool = True
    permissions: Permissions | None = None
    group_grants: Permissions | None = None
    # "scim" or "manual" (created by hand in the dashboard); None: the host does not say.
    provisioning_method: str | None = None


@dataclass(frozen=True)
class ManualUser:
    """A dashboard user the identity provider did not create, as ``scim_manual_users`` lists it."""

    host_user_id: str
    state: HostUserState


@dataclass(frozen=True)
class WorkspaceInfo:
    id: str
    name: str


@dataclass(frozen=True)
class HostUserInfo:
    """Read-only facts the host keeps about a user (Braze's ``lastSignInAt``)."""

    last_sign_in_at: datetime | None = None


@dataclass(frozen=True)
class AdminIdentity:
    """The signed-in host user, as the admin settings page needs it."""

    user_id: str
    display: str
    tenant_id: str
    is_admin: bool


@dataclass(frozen=True)
class IssuedCredential:
    """A freshly issued SCIM token: ``token`` is shown once and never stored (nor in a ``repr``, so
    not in a log or a traceback either)."""

    token: str = field(repr=False)
    token_id: str
    hint: str


@dataclass(frozen=True)
class TokenIdentity:
    """Who a verified token acts for.

    ``settings``: the tenant's settings when the implementation read them anyway, as a
    ``TenantSnapshot`` (the built-in selects them in the token's query) or a ``TenantSettings`` row;
    ``None`` lets authentication read them.
    """

    tenant_id: str
    token_id: str
    settings: Any = field(default=None, compare=False, repr=False)


class TokenRejected(Exception):
    """A token implementation recognised the token and refuses it; ``reason`` is for the audit trail.

    ``tenant_id`` (with its ``provisioning_method``) is set only when the token is provably that
    tenant's (its secret verified, as for a revoked token): the refusal then lands on that company's
    trail and status panel, where an admin sees an IdP still calling with a token a switch revoked.
    A guessed token id never writes to another company's trail.
    """

    def __init__(
        self, reason: str, *, tenant_id: str | None = None, provisioning_method: str | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tenant_id = tenant_id
        self.provisioning_method = provisioning_method


@dataclass(frozen=True)
class ScimEvent:
    """Something that happened: a provisioning change, a token change or an audited request.

    ``name`` is one of ``user.created``, ``user.updated``, ``user.deactivated``, ``user.reactivated``,
    ``user.deleted``, ``user.linked`` (an existing dashboard user taken over), ``user.synced`` (a
    dashboard change reached the SCIM view), ``group.created``, ``group.updated``, ``group.deleted``,
    ``token.issued``, ``token.revoked``, ``method.changed``, ``request.refused``, ``request.audited``.
    """

    name: str
    tenant_id: str | None
    data: dict[str, Any] = field(default_factory=dict)
