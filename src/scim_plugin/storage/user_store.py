"""Provisioned users: the SCIM documents in ``scim_users`` and their host users, kept in step.

Longer than 400 lines because ``UserStore`` keeps every write of a user (create, replace, patch,
delete, with the host call and the ``If-Match`` retry each needs) beside the prepared statements they
share; the documents and ETags are in :mod:`~scim_plugin.storage.user_documents`.

Every method runs inside the caller's transaction and only flushes (the API commits once per request).
Tenant isolation: every statement is filtered on ``tenant_id``. Uniqueness of ``userName`` is enforced
by the database's unique index, and ``If-Match`` by ``UPDATE ... WHERE version = :expected``, so races
are settled by the database, not by a read-then-write check.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, cast, delete, func, insert, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from scim_plugin.core import errors
from scim_plugin.core.filters import Compare, Node
from scim_plugin.core.host_view import apply_host_state, with_permissions
from scim_plugin.core.patch import apply_patch
from scim_plugin.core.replace import check_immutable, merge_for_put
from scim_plugin.core.resources import normalize_input
from scim_plugin.core.schemas import ENTERPRISE_USER_URN, PERMISSIONS_URN, USER_RESOURCE
from scim_plugin.seam import HostUserState, Permissions, Ref, UserChange, WorkspaceGrant
from scim_plugin.state import ScimState
from scim_plugin.storage.models import ScimGroup, ScimGroupMember, ScimUser, ScimUserValue, new_id, utcnow
from scim_plugin.storage.paging import Segment, SortKey, index_list, list_keys
from scim_plugin.storage.sql_filters import VALUE_TABLE_ATTRIBUTES, FilterCompiler, fold
from scim_plugin.storage.user_documents import if_match_versions, permissions_from, rendered_body

SORTABLE = {
    "username": ScimUser.user_name_norm,
    "displayname": ScimUser.display_name_norm,
    "name.givenname": ScimUser.given_name_norm,
    "name.familyname": ScimUser.family_name_norm,
    "externalid": ScimUser.external_id,
    "id": ScimUser.id,
    "active": ScimUser.active,
    "meta.created": ScimUser.created_at,
    "meta.lastmodified": ScimUser.updated_at,
}
READ_ONLY_KEYS = ("id", "meta", "groups")
# What a response renders (``document``, the groups of a page, the host's lastSignInAt), read as plain
# rows: list pages and GET by id.
LISTED = (
    ScimUser.id,
    ScimUser.tenant_id,
    ScimUser.host_user_id,
    ScimUser.resource,
    ScimUser.version,
    ScimUser.created_at,
    ScimUser.updated_at,
)
# The same with the stored default document instead of ``resource``: list pages without a projection.
LISTED_BODY = (*LISTED[:3], ScimUser.body, *LISTED[4:])


@dataclass(frozen=True)
class ListQuery:
    filter: Node | None
    start_index: int
    count: int
    sort_by: str | None
    descending: bool
    # RFC 9865: None pages by index; "" asks for the first cursor page; else a nextCursor/previousCursor.
    cursor: str | None = None
    filter_text: str | None = None


class NewUser(NamedTuple):
    """A user ``UserStore.prepare`` made from a request body: its row (no host user yet), the row's
    column values, its ``scim_user_values`` rows, what the host is told, whether the body named
    permissions, and the password it carried (never stored)."""

    row: ScimUser
    values: dict[str, Any]
    value_rows: list[dict[str, Any]]
    change: UserChange
    permissions_given: bool = True
    password: str | None = None


class UserStore:
    """The tenant's SCIM users."""

    def __init__(
        self,
        state: ScimState,
        tenant_id: str,
        default_workspace: Ref | None,
        existing_users: str = "manual",
        method: str | None = None,
    ) -> None:
        self.state = state
        self.session = state.db.session
        self.tenant_id = tenant_id
        self.default_workspace = default_workspace
        # The tenant's policy for dashboard users made by hand (``TenantSettings.existing_users``).
        self.existing_users = existing_users
        # The company's provisioning method, kept on each user a write touches (``scim_method``).
        self.method = method
        # Exposed dashboard users this store's writes took over (for the audit trail and events).
        self.linked: list[str] = []

    # -- reads ---------------------------------------------------------------------------------------

    def get(self, user_id: str, *, lock: bool = False) -> ScimUser:
        stmt = select(ScimUser).where(ScimUser.tenant_id == self.tenant_id, ScimUser.id == user_id)
        if lock:
            # Re-read the latest committed row and hold it (PostgreSQL); SQLite ignores FOR UPDATE, but a
            # writer there already holds the database's write lock after its first UPDATE.
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        row = self.session.execute(stmt).scalar_one_or_none()
        if row is None:
            raise errors.NotFound(f"User {user_id} not found.")
        return row

    def read(self, user_id: str, columns: tuple[Any, ...] = LISTED) -> Any:
        """The user as a read-only ``LISTED`` (or ``LISTED_BODY``) row (GET by id); ``get`` returns the
        object writes need."""
        statement = _BY_ID if columns is LISTED else _BY_ID_BODY
        row = self.session.execute(statement, {"tenant_id": self.tenant_id, "user_id": user_id}).first()
        if row is None:
            raise errors.NotFound(f"User {user_id} not found.")
        return row

    def segment(self, query: ListQuery, columns: tuple[Any, ...] = LISTED) -> Segment:
        """The rows ``query`` selects and their order, for index or cursor paging."""
        condition = ScimUser.tenant_id == self.tenant_id
        if query.filter is not None:
            condition = condition & FilterCompiler(USER_RESOURCE).compile(query.filter)
        # Resolve sortBy first: an unknown attribute is an error even when nothing matches.
        column = self._sort_column(query.sort_by) if query.sort_by else None
        return Segment(ScimUser, condition, self.keys(column, query.descending), columns)

    @staticmethod
    def keys(column: Any, descending: bool) -> list[SortKey]:
        return list_keys(column, descending, ScimUser.created_at, ScimUser.id)

    def search(self, query: ListQuery, columns: tuple[Any, ...] = LISTED) -> tuple[int, list[Any]]:
        """``totalResults`` and the page's rows (``columns``: ``LISTED`` or ``LISTED_BODY``, read-only)."""
        user_name = _user_name_lookup(query)
        if user_name is not None:
            # The lookup every IdP sends before each create or update: one prepared statement on the
            # unique index, without compiling the filter (it would compile to the same condition).
            params = {"tenant_id": self.tenant_id, "user_name_norm": fold(user_name)}
            lookup = _BY_USER_NAME if columns is LISTED else _BY_USER_NAME_BODY
            rows = list(self.session.execute(lookup, params).all())
            return len(rows), rows
        segment = self.segment(query, columns)
        total, items = index_list(self.session, [segment], query.start_index - 1, query.count)
        return total, [row for _, row in items]

    def resources(self, user_ids: list[str]) -> dict[str, Any]:
        """``resource`` of these users (of rows listed without it), by id."""
        if not user_ids:
            return {}
        found = self.session.execute(
            select(ScimUser.id, ScimUser.resource).where(
                ScimUser.tenant_id == self.tenant_id, ScimUser.id.in_(user_ids)
            )
        )
        return {row.id: row.resource for row in found}

    def _sort_column(self, sort_by: str) -> Any:
        from scim_plugin.core.schemas import resolve_path

        path = resolve_path(USER_RESOURCE, sort_by)
        if path is None:
            raise errors.InvalidValue(f"Unknown sortBy attribute {sort_by!r}.")
        key = path.attribute.name.lower() + (f".{path.sub.name.lower()}" if path.sub else "")
        if not path.is_extension and key in SORTABLE:
            return SORTABLE[key]
        if path.attribute.multi_valued or (path.attribute.type == "complex" and path.sub is None):
            raise errors.InvalidValue(f"Cannot sort by {sort_by!r}.")
        json_path = (path.attribute.name,) + ((path.sub.name,) if path.sub else ())
        if path.is_extension:
            json_path = (path.schema.id, *json_path)
        return func.lower(ScimUser.resource[json_path].as_string())

    # -- writes --------------------------------------------------------------------------------------

    def prepare(self, body: Any) -> NewUser:
        """A new user from ``body``, validated and ready to insert; nothing is written or read."""
        resource = normalize_input(body, USER_RESOURCE)
        password = resource.pop("password", None)
        # The host user is active unless told otherwise; the document says so too, so that
        # ``active eq true`` and GET agree with what the host has.
        resource.setdefault("active", True)
        for key in READ_ONLY_KEYS:
            resource.pop(key, None)
        permissions_given = PERMISSIONS_URN in resource
        if self._joins_default(resource):
            # The workspace the user joins is shown from the first answer on, as the dashboard holds it.
            with_permissions(resource, self._permissions(resource))
        now = utcnow()
        values = {
            "id": new_id(),
            "tenant_id": self.tenant_id,
            "resource": resource,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "scim_changed_at": now,
            "scim_method": self.method,
            **self._columns(resource),
        }
        row = ScimUser(**values)  # not added to the session: ``insert`` writes it
        change = self._change(row, password)
        return NewUser(row, values, self._value_rows(row), change, permissions_given, password)

    def insert(self, new: NewUser) -> tuple[ScimUser, bool]:
        """Create the host's user, then write the SCIM row that names it; returns the row and whether
        its document differs from the prepared one (the host holds more than the request said, or an
        existing dashboard user was linked), so that an answer rendered before must be rendered again."""
        if self.existing_users == "match":
            emails = new.row.resource.get("emails") or []
            keys = {new.row.user_name_norm}
            keys.update(
                fold(e["value"]) for e in emails if isinstance(e, dict) and isinstance(e.get("value"), str)
            )
            exposed = self._exposed(keys)
            if exposed is not None:
                return self._take_over(exposed, new), True
        row, values, value_rows = new.row, new.values, new.value_rows
        # Worked out before the host writes: nothing but the INSERTs between the first write and the last.
        together = (
            0 < len(value_rows) <= _MAX_VALUES_WITH_USER
            and self.session.get_bind(mapper=ScimUser).dialect.name == "postgresql"
        )
        # Two creates of one user racing into the host: the loser's host INSERT trips its unique index.
        with _host_unique(row.user_name):
            host_id = self.state.hook.scim_create_user(tenant_id=self.tenant_id, user=new.change)
        if host_id is None:
            raise errors.NotImplementedFeature("No host implementation creates users (scim_create_user).")
        row.host_user_id = values["host_user_id"] = str(host_id)
        host_view = self._host_view(row.host_user_id, row.resource)
        changed = host_view is not None and host_view != row.resource
        if changed:
            # The host holds more than the request said (the ids and names of what it granted).
            columns = {"resource": host_view, **self._columns(host_view)}
            values.update(columns)
            for column, value in columns.items():
                setattr(row, column, value)
            value_rows = self._value_rows(row)
            together = together and 0 < len(value_rows) <= _MAX_VALUES_WITH_USER
        # The host's rows first, then the SCIM row in one INSERT that already names its host user (no
        # UPDATE afterwards). A taken userName trips the unique index here, and the error handler rolls
        # back the host's rows with it (no savepoint, for the reason given in ``_save``).
        try:
            if together:
                # One round trip for the row and its filterable values (a writable CTE).
                params = {f"u_{key}": item for key, item in values.items()}
                for index, value_row in enumerate(value_rows):
                    params.update({f"v{index}_{key}": item for key, item in value_row.items()})
                statement = _insert_user_with_values(tuple(values), tuple(value_rows[0]), len(value_rows))
                self.session.execute(statement, params)
            else:
                self.session.execute(_INSERT_USER, values)
        except IntegrityError:
            raise errors.Uniqueness(f'A user with userName "{row.user_name}" already exists.') from None
        if value_rows and not together:
            self.session.execute(_INSERT_VALUES, value_rows)
        return row, changed

    def replace(self, user_id: str, body: Any, if_match: str | None) -> ScimUser:
        return _retry_unconditional(if_match, lambda lock: self._replace(user_id, body, if_match, lock))

    def _replace(self, user_id: str, body: Any, if_match: str | None, lock: bool) -> ScimUser:
        row = self.get(user_id, lock=lock)
        body = copy.deepcopy(body)
        if isinstance(body, dict) and not _names_user_name(body):
            # Braze's PUT carries no userName ("cannot be updated through this endpoint"): keep it.
            body = {**body, "userName": row.user_name}
        new = normalize_input(body, USER_RESOURCE)
        password = new.pop("password", None)
        old = self._stored(row)
        check_immutable(old, new, USER_RESOURCE)
        merged = merge_for_put(old, new, USER_RESOURCE)
        merged.setdefault("active", True)  # a PUT that omits ``active`` means active, as on create
        permissions_given = PERMISSIONS_URN in new or "permissions" in {k.lower() for k in body}
        return self._save(row, old, merged, if_match, password, permissions_given)

    def patch(self, user_id: str, operations: Any, if_match: str | None) -> PatchOutcome:
        return _retry_unconditional(if_match, lambda lock: self._patch(user_id, operations, if_match, lock))

    def _patch(self, user_id: str, operations: Any, if_match: str | None, lock: bool) -> PatchOutcome:
        row = self.get(user_id, lock=lock)
        was_active = row.active
        old = self._stored(row)
        result = apply_patch(old, copy.deepcopy(operations), USER_RESOURCE)
        if not result.changed and row.managed:
            self._check_version(row, if_match)
            return PatchOutcome(row, False, was_active)
        permissions_given = result.resource.get(PERMISSIONS_URN) != old.get(PERMISSIONS_URN)
        password = result.resource.pop("password", None)
        saved = self._save(row, old, result.resource, if_match, password, permissions_given)
        return PatchOutcome(saved, True, was_active)

    def delete(self, user_id: str, if_match: str | None) -> None:
        self._delete(user_id, if_match, host=True)

    def _delete(self, user_id: str, if_match: str | None, *, host: bool) -> None:
        """Delete the SCIM user (it leaves its groups first); with ``host``, its host user too."""
        versions = if_match_versions(if_match)
        params = {"tenant": self.tenant_id, "user": user_id}  # not column names: UPDATE ... SET has those
        # The user leaves its groups: their member lists changed, so their versions and counts move on.
        # First, while its membership rows exist (they cascade away with the user), and even for a
        # company that had no group when this request began: one may have been created since.
        params["now"] = utcnow()
        dialect = self.session.get_bind(mapper=ScimUser).dialect.name
        # The foreign keys cascade in the database, except on SQLite without PRAGMA foreign_keys.
        cascades = dialect != "sqlite" or _sqlite_enforces_foreign_keys(self.session)
        if dialect != "postgresql":
            self.session.execute(_LEAVE_GROUPS, params)
        if not cascades:
            self.session.execute(_DELETE_MEMBERSHIPS, params)
        # No read first: the DELETE says which host user was behind the row, and whether there was one.
        # On PostgreSQL the groups are left in the same statement (one round trip, not two).
        statement = _LEAVE_AND_DELETE_USER if dialect == "postgresql" else _DELETE_USER
        if versions is not None:
            statement = statement.where(_USERS.c.version.in_(versions or [-1]))
        if self.session.get_bind(mapper=ScimUser).dialect.delete_returning:
            gone = self.session.execute(statement, params).first()
        else:  # MySQL: no DELETE ... RETURNING; the row is read locked, then deleted
            gone = self.session.execute(_locked_for_delete(versions), params).first()
            if gone is not None:
                self.session.execute(_DELETE_USER_ROW, params)
        if gone is None:
            exists = {"tenant_id": self.tenant_id, "user_id": user_id}
            if versions is None or self.session.execute(_EXISTS, exists).first() is None:
                # Absent, or a concurrent DELETE won.
                raise errors.NotFound(f"User {user_id} not found.")
            raise errors.PreconditionFailed("The user was changed by someone else (If-Match failed).")
        if not cascades:
            self.session.execute(_DELETE_VALUES, params)
        if host and gone.host_user_id is not None:
            # Refused (HostRefused) or failed: the error handler rolls the SCIM side back with it.
            host_user_id = gone.host_user_id
            handled = self.state.hook.scim_delete_user(tenant_id=self.tenant_id, host_user_id=host_user_id)
            if handled is None:
                raise errors.NotImplementedFeature("No host implementation deletes users (scim_delete_user).")

    # -- helpers -------------------------------------------------------------------------------------

    def _stored(self, row: ScimUser) -> dict[str, Any]:
        resource = copy.deepcopy(row.resource)
        resource["id"] = row.id
        return resource

    def _check_version(self, row: ScimUser, if_match: str | None) -> None:
        versions = if_match_versions(if_match)
        if versions is not None and row.version not in versions:
            raise errors.PreconditionFailed("The user was changed by someone else (If-Match failed).")

    def _save(
        self,
        row: ScimUser,
        old: dict[str, Any],
        new: dict[str, Any],
        if_match: str | None,
        password: str | None,
        permissions_given: bool,
    ) -> ScimUser:
        for key in READ_ONLY_KEYS:
            new.pop(key, None)
        _keep_host_owned(old, new, permissions_given)
        # A write that changes nothing is no write, except for an exposed user: the client's first word
        # about it takes it over, as the policy says.
        unchanged = new == {k: v for k, v in old.items() if k not in READ_ONLY_KEYS} and password is None
        if unchanged and row.managed:
            self._check_version(row, if_match)
            return row
        versions = if_match_versions(if_match)
        expected = row.version
        if versions is not None and expected not in versions:
            raise errors.PreconditionFailed("The user was changed by someone else (If-Match failed).")
        if not row.managed:
            self._link(row)
        # The host first, then the SCIM row: the document stored is what the dashboard holds after the
        # change (``scim_user_state``), and a dashboard edit (host rows, then ``user_changed``) takes the
        # two in the same order, so the two cannot deadlock. A lost race is settled by the version check
        # below, and the error handler (412) or the retry (``_retry_unconditional``) redoes or rolls back
        # the host's part with it.
        change = self._change_for(new, password, with_permissions=permissions_given)
        # The new userName may be free among SCIM users but taken in the host (a dashboard user the IdP
        # never provisioned).
        with _host_unique(new["userName"]):
            if row.host_user_id is not None:
                handled = self.state.hook.scim_update_user(
                    tenant_id=self.tenant_id, host_user_id=row.host_user_id, user=change
                )
                if handled is None:
                    raise errors.NotImplementedFeature(
                        "No host implementation updates users (scim_update_user)."
                    )
            self.session.flush()
        new = self._host_view(row.host_user_id, new) or new
        values = self._columns(new)
        now = utcnow()
        # The version check lives in the UPDATE itself: of two concurrent writers only one matches.
        # A userName taken by another user trips the unique index here. No savepoint: the error handler
        # rolls the whole request back (and on SQLite, pysqlite's RELEASE of a first savepoint would
        # commit the transaction early, so a later failure could no longer be undone).
        written = {
            **values,
            "resource": new,
            "version": expected + 1,
            "updated_at": now,
            "scim_changed_at": now,
            "scim_method": self.method,
            "managed": True,
        }
        try:
            result = self.session.execute(
                _UPDATE_USER, {"tenant": self.tenant_id, "user": row.id, "expected": expected, **written}
            )
        except IntegrityError:
            raise errors.Uniqueness(f'A user with userName "{values["user_name"]}" already exists.') from None
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise _Raced("The user was changed by someone else; fetch it and retry.")
        # The row now holds what was written: no re-read.
        for column, value in written.items():
            set_committed_value(row, column, value)
        if _value_entries(old) != _value_entries(new):
            self._write_values(row)
        return row

    # -- the dashboard's side ------------------------------------------------------------------------

    def refresh(self, *, host_user_id: str | None = None, user_id: str | None = None) -> ScimUser | None:
        """Bring a user's document in line with what the dashboard holds now (``scim_user_state``).

        For a change the dashboard made (``scim_plugin.user_changed``) or a grant a group made: the row
        is locked, and when the host's view differs from the document it is written with the next
        version and a new ``lastModified``, so ETags, ``If-Match`` and filters see the change. Returns
        the row, or ``None`` when no SCIM user stands for that host user.
        """
        condition = ScimUser.id == user_id if user_id is not None else ScimUser.host_user_id == host_user_id
        stmt = (
            select(ScimUser)
            .where(ScimUser.tenant_id == self.tenant_id, condition)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        row = self.session.execute(stmt).scalars().first()
        if row is None:
            return None
        view = self._host_view(row.host_user_id, row.resource)
        if view is None or view == row.resource:
            return row
        old = row.resource
        written = {
            **self._columns(view),
            "resource": view,
            "version": row.version + 1,
            "updated_at": utcnow(),
        }
        params = {"tenant": self.tenant_id, "user": row.id, "expected": row.version, **written}
        try:
            self.session.execute(_UPDATE_USER, params)
        except IntegrityError:
            raise errors.Uniqueness(
                f'Another SCIM user of this company already has the userName "{view["userName"]}".'
            ) from None
        for column, value in written.items():
            set_committed_value(row, column, value)
        if _value_entries(old) != _value_entries(view):
            self._write_values(row)
        return row

    def forget(self, host_user_id: str) -> str | None:
        """The dashboard deleted the user: its SCIM user goes too (a GET is then a 404); returns its id."""
        found = self.session.execute(
            select(ScimUser.id).where(
                ScimUser.tenant_id == self.tenant_id, ScimUser.host_user_id == host_user_id
            )
        ).first()
        if found is None:
            return None
        self.drop(found.id)
        return str(found.id)

    def drop(self, user_id: str) -> None:
        """Delete the SCIM user alone (it leaves its groups); its host user stays."""
        self._delete(user_id, None, host=False)

    def expose(self, host_user_id: str, state: HostUserState) -> ScimUser | None:
        """Show a dashboard user made by hand to lookups and lists (the ``match`` policy): a row that no
        client wrote (``managed`` false). Nothing when a SCIM user already stands for it or holds its
        userName; returns the new row."""
        key = fold(state.user_name)
        taken = self.session.execute(
            select(ScimUser.id).where(
                ScimUser.tenant_id == self.tenant_id,
                (ScimUser.host_user_id == host_user_id) | (ScimUser.user_name_norm == key),
            )
        ).first()
        if taken is not None:
            return None
        email = state.email or state.user_name
        base = {"schemas": [USER_RESOURCE.schema.id], "userName": state.user_name}
        base["emails"] = [{"value": email, "type": "work", "primary": True}]
        resource = apply_host_state(base, state)
        now = utcnow()
        values = {
            "id": new_id(),
            "tenant_id": self.tenant_id,
            "host_user_id": host_user_id,
            "resource": resource,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "scim_changed_at": None,
            "managed": False,
            **self._columns(resource),
        }
        row = ScimUser(**values)
        self.session.execute(_INSERT_USER, values)
        value_rows = self._value_rows(row)
        if value_rows:
            self.session.execute(_INSERT_VALUES, value_rows)
        return row

    def _exposed(self, keys: set[str]) -> ScimUser | None:
        """An exposed dashboard user (``expose``) whose userName is one of ``keys``."""
        stmt = select(ScimUser).where(
            ScimUser.tenant_id == self.tenant_id,
            ScimUser.managed.is_(False),
            ScimUser.user_name_norm.in_(sorted(keys)),
        )
        return self.session.execute(stmt.with_for_update()).scalars().first()

    def _take_over(self, exposed: ScimUser, new: NewUser) -> ScimUser:
        """A POST that named an exposed dashboard user's email: that account, linked and updated with the
        request, instead of a 409. Permissions the request did not name stay as the dashboard has them."""
        resource = copy.deepcopy(new.row.resource)
        if not new.permissions_given:
            resource.pop(PERMISSIONS_URN, None)
        resource.setdefault("active", True)
        return self._save(exposed, self._stored(exposed), resource, None, new.password, new.permissions_given)

    def _link(self, row: ScimUser) -> None:
        """The first SCIM write to an exposed dashboard user: the host marks it as provisioned."""
        if row.host_user_id is not None:
            self.state.hook.scim_link_user(tenant_id=self.tenant_id, host_user_id=row.host_user_id)
        self.linked.append(row.id)

    def _host_view(self, host_user_id: str | None, resource: dict[str, Any]) -> dict[str, Any] | None:
        """``resource`` with what the dashboard holds (``scim_user_state``), or ``None`` when the host
        keeps no state of its own."""
        if host_user_id is None:
            return None
        state = self.state.hook.scim_user_state(tenant_id=self.tenant_id, host_user_id=host_user_id)
        return apply_host_state(resource, state) if state is not None else None

    @staticmethod
    def _columns(resource: dict[str, Any]) -> dict[str, Any]:
        name = resource.get("name") or {}

        def folded(value: Any) -> str | None:
            return fold(value)[:255] if isinstance(value, str) else None

        return {
            "user_name": resource["userName"],
            "user_name_norm": fold(resource["userName"]),
            "external_id": resource.get("externalId"),
            "display_name_norm": folded(resource.get("displayName")),
            "given_name_norm": folded(name.get("givenName")),
            "family_name_norm": folded(name.get("familyName")),
            "active": resource["active"] if isinstance(resource.get("active"), bool) else None,
            "body": rendered_body(resource),
        }

    def _write_values(self, row: ScimUser) -> None:
        """Mirror the multi-valued attributes into ``scim_user_values`` again, for filtering."""
        self.session.execute(_DELETE_VALUES, {"user": row.id})
        rows = self._value_rows(row)
        if rows:
            self.session.execute(_INSERT_VALUES, rows)

    def _value_rows(self, row: ScimUser) -> list[dict[str, Any]]:
        """The ``scim_user_values`` rows of the user's multi-valued attributes."""
        rows = []
        for attribute, entry in _value_entries(row.resource):
            value = entry.get("value")
            text = value if isinstance(value, str) else None
            rows.append(
                {
                    "user_id": row.id,
                    "tenant_id": self.tenant_id,
                    "attribute": attribute,
                    "type": fold(entry["type"])[:64] if isinstance(entry.get("type"), str) else None,
                    "value": text[:512] if text else None,
                    "value_norm": fold(text)[:512] if text else None,
                    "primary": entry["primary"] if isinstance(entry.get("primary"), bool) else None,
                }
            )
        return rows

    def _joins_default(self, resource: dict[str, Any]) -> bool:
        """Whether the user, named no workspace and no team, joins the tenant's default workspace."""
        permissions = permissions_from(resource.get(PERMISSIONS_URN))
        return self.default_workspace is not None and not (permissions.workspaces or permissions.teams)

    def _permissions(self, resource: dict[str, Any]) -> Permissions:
        """The requested permissions; a user given no workspace joins the tenant's default workspace.

        The document shows that workspace too (``prepare``): it is what the dashboard holds, so a later
        PATCH ``add`` of a workspace adds to it, as it would in the dashboard.
        """
        permissions = permissions_from(resource.get(PERMISSIONS_URN))
        if not self._joins_default(resource):
            return permissions
        return replace(permissions, workspaces=(WorkspaceGrant(workspace=self.default_workspace),))

    def _change(self, row: ScimUser, password: str | None, *, with_permissions: bool = True) -> UserChange:
        return self._change_for(row.resource, password, with_permissions=with_permissions)

    def _change_for(
        self, resource: dict[str, Any], password: str | None, *, with_permissions: bool = True
    ) -> UserChange:
        name = resource.get("name") or {}
        enterprise = resource.get(ENTERPRISE_USER_URN) or {}
        emails = tuple(e["value"] for e in resource.get("emails") or [] if isinstance(e.get("value"), str))
        return UserChange(
            user_name=resource["userName"],
            given_name=name.get("givenName"),
            family_name=name.get("familyName"),
            display_name=resource.get("displayName"),
            department=enterprise.get("department"),
            active=bool(resource.get("active", True)),
            emails=emails,
            permissions=self._permissions(resource) if with_permissions else None,
            resource=resource,
            password=password if self.state.config.password == "host" else None,
        )


_USERS, _GROUPS, _MEMBERS = ScimUser.__table__, ScimGroup.__table__, ScimGroupMember.__table__
# GET by id and the userName lookup: the same columns on the table, so that running them skips the
# ORM's per-statement work (~150 us a statement, measured in-process).
_LISTED_COLUMNS = tuple(_USERS.c[column.key] for column in LISTED)
_LISTED_BODY_COLUMNS = tuple(_USERS.c[column.key] for column in LISTED_BODY)
_THIS_TENANT = _USERS.c.tenant_id == bindparam("tenant_id")
_BY_ID = select(*_LISTED_COLUMNS).where(_THIS_TENANT, _USERS.c.id == bindparam("user_id"))
_BY_ID_BODY = select(*_LISTED_BODY_COLUMNS).where(_THIS_TENANT, _USERS.c.id == bindparam("user_id"))
_EXISTS = select(_USERS.c.id).where(_THIS_TENANT, _USERS.c.id == bindparam("user_id"))
# A user's delete, as statements built once on the tables (no ORM bookkeeping, compiled once).
_MEMBER = and_(_MEMBERS.c.tenant_id == bindparam("tenant"), _MEMBERS.c.member_id == bindparam("user"))
_LEAVE_GROUPS = (
    update(_GROUPS)
    .where(
        _GROUPS.c.tenant_id == bindparam("tenant"),
        _GROUPS.c.id.in_(select(_MEMBERS.c.group_id).where(_MEMBER)),
    )
    .values(
        version=_GROUPS.c.version + 1, member_count=_GROUPS.c.member_count - 1, updated_at=bindparam("now")
    )
)
_DELETE_MEMBERSHIPS = delete(_MEMBERS).where(_MEMBER)
_THE_USER = (_USERS.c.tenant_id == bindparam("tenant"), _USERS.c.id == bindparam("user"))
_DELETE_USER_ROW = delete(_USERS).where(*_THE_USER)
_DELETE_USER = _DELETE_USER_ROW.returning(_USERS.c.host_user_id)


def _locked_for_delete(versions: list[int] | None) -> Any:
    """What ``_DELETE_USER`` returns, read under the row lock where DELETE has no RETURNING."""
    statement = select(_USERS.c.host_user_id).where(*_THE_USER)
    if versions is not None:
        statement = statement.where(_USERS.c.version.in_(versions or [-1]))
    return statement.with_for_update()


# PostgreSQL: the UPDATE of the groups runs in the DELETE's statement (a writable CTE), on the
# membership rows as they were before the DELETE cascades them away.
_LEAVE_AND_DELETE_USER = _DELETE_USER.add_cte(_LEAVE_GROUPS.returning(_GROUPS.c.id).cte("left_groups"))
_VALUES = ScimUserValue.__table__
_DELETE_VALUES = delete(_VALUES).where(_VALUES.c.user_id == bindparam("user"))
# Writes: the columns come from the parameters (UPDATE ... SET only the keys given).
_INSERT_USER = insert(_USERS)
_INSERT_VALUES = insert(_VALUES)
_UPDATE_USER = update(_USERS).where(
    _USERS.c.tenant_id == bindparam("tenant"),
    _USERS.c.id == bindparam("user"),
    _USERS.c.version == bindparam("expected"),
)
# A new user with up to this many value rows (an IdP sends one to three emails, phone numbers...) is
# written in one statement on PostgreSQL; more take a second INSERT.
_MAX_VALUES_WITH_USER = 8


@functools.lru_cache(maxsize=4 * _MAX_VALUES_WITH_USER)
def _insert_user_with_values(user_columns: tuple[str, ...], value_columns: tuple[str, ...], rows: int) -> Any:
    """PostgreSQL: ``INSERT`` of the SCIM row's ``user_columns`` (parameters ``u_<column>``) in a writable
    CTE of the ``INSERT`` of ``rows`` value rows (parameters ``v<i>_<column>``); built once per shape.
    No parameter is named as a column: SQLAlchemy would add that column to the outer ``INSERT``.
    The value rows are a ``SELECT ... UNION ALL`` and not a multi-row ``VALUES``: SQLAlchemy does not
    cache the compiled form of the latter, and compiling it cost more than the round trip it saves."""
    new_user = insert(_USERS).values({key: bindparam(f"u_{key}") for key in user_columns}).cte("new_user")
    selects = [
        # Each parameter cast to its column's type: a NULL in a SELECT list is text otherwise.
        select(*(cast(bindparam(f"v{index}_{key}"), _VALUES.c[key].type) for key in value_columns))
        for index in range(rows)
    ]
    chosen = selects[0] if rows == 1 else union_all(*selects)
    return insert(_VALUES).from_select(list(value_columns), chosen).add_cte(new_user)


_USER_NAME_IS = _USERS.c.user_name_norm == bindparam("user_name_norm")
_BY_USER_NAME = select(*_LISTED_COLUMNS).where(_THIS_TENANT, _USER_NAME_IS)
_BY_USER_NAME_BODY = select(*_LISTED_BODY_COLUMNS).where(_THIS_TENANT, _USER_NAME_IS)


def _sqlite_enforces_foreign_keys(session: Any) -> bool:
    """Whether this SQLite connection enforces foreign keys (the host turned ``PRAGMA foreign_keys`` on
    when it connected): then a user's value and membership rows go with it, as on other databases.
    Asked once per connection; the pragma cannot change inside a transaction, and hosts set it on connect."""
    connection = session.connection(bind_arguments={"mapper": ScimUser})
    info = connection.connection.info
    enforced: bool | None = info.get("scim_foreign_keys")
    if enforced is None:
        enforced = bool(connection.exec_driver_sql("PRAGMA foreign_keys").scalar())
        info["scim_foreign_keys"] = enforced
    return enforced


@contextmanager
def _host_unique(user_name: str) -> Iterator[None]:
    """A unique violation raised by the host's writes in the block is this request's ``409 uniqueness``,
    whether or not the host catches it; the error handler rolls back both sides."""
    try:
        yield
    except IntegrityError as exc:
        if not _unique_violation(exc):
            raise
        raise errors.Uniqueness(
            f'A user with userName "{user_name}" already exists (the host refused a duplicate).'
        ) from None


def _unique_violation(exc: IntegrityError) -> bool:
    """Whether ``exc`` is a unique-index violation (not a foreign key, NOT NULL or CHECK one)."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == "23505":  # PostgreSQL
        return True
    args = getattr(orig, "args", ())
    if args and args[0] == 1062:  # MySQL / MariaDB: duplicate entry
        return True
    return "UNIQUE constraint failed" in str(orig)  # SQLite


def _user_name_lookup(query: ListQuery) -> str | None:
    """The userName of a first-page ``userName eq "..."`` query without sortBy (at most one user)."""
    node = query.filter
    if not (isinstance(node, Compare) and node.op == "eq" and isinstance(node.value, str)):
        return None
    path = node.path
    if path.sub is not None or path.attr.lower() != "username" or query.sort_by or query.cursor is not None:
        return None
    if path.urn is not None and path.urn.lower() != USER_RESOURCE.schema.id.lower():
        return None
    return node.value if query.start_index == 1 and query.count >= 1 else None


class PatchOutcome(NamedTuple):
    row: ScimUser
    changed: bool
    was_active: bool | None


def _value_entries(resource: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The multi-valued entries mirrored into ``scim_user_values`` (filterable in SQL)."""
    return [
        (attribute, entry)
        for attribute in VALUE_TABLE_ATTRIBUTES
        for entry in resource.get(attribute) or []
        if isinstance(entry, dict)
    ]


class _Raced(errors.PreconditionFailed):
    """Another request updated the user between our read and our ``UPDATE ... WHERE version``."""


def _retry_unconditional(if_match: str | None, attempt: Any) -> Any:
    """Run a read-modify-write; without ``If-Match`` a lost race is redone on the latest row.

    A client that sent no precondition must not get ``412``: its PUT or PATCH is applied to whatever is
    current, as if it had arrived a moment later. The retry re-reads the row locked, so it cannot lose
    again on PostgreSQL (and on SQLite the failed ``UPDATE`` already took the write lock). With
    ``If-Match`` the race is the client's to settle: ``412``.
    """
    try:
        return attempt(False)
    except _Raced:
        if if_match is not None:
            raise
    return attempt(True)


# The permissions extension's attributes the host sets and no client writes.
_HOST_ONLY_KEYS = ("groupGrants", "provisioningMethod")


def _keep_host_owned(old: dict[str, Any], new: dict[str, Any], permissions_given: bool) -> None:
    """What the dashboard holds and the request did not touch stays in ``new``: the permissions when the
    request left them alone (a PUT without them keeps them, as the host does), and always what groups
    grant and how the account was made."""
    before = old.get(PERMISSIONS_URN)
    if not isinstance(before, dict):
        return
    if not permissions_given:
        ext = dict(before)
    else:
        ext = dict(new.get(PERMISSIONS_URN) or {})
        ext.update({key: before[key] for key in _HOST_ONLY_KEYS if key in before})
    if ext:
        new[PERMISSIONS_URN] = ext
        schemas = new.setdefault("schemas", [])
        if PERMISSIONS_URN not in schemas:
            schemas.append(PERMISSIONS_URN)


def _names_user_name(body: dict[str, Any]) -> bool:
    core = USER_RESOURCE.schema.id.lower()
    for key, value in body.items():
        lowered = key.lower() if isinstance(key, str) else ""
        if lowered in ("username", f"{core}:username"):
            return True
        if (
            lowered == core
            and isinstance(value, dict)
            and any(isinstance(k, str) and k.lower() == "username" for k in value)
        ):
            return True
    return False
