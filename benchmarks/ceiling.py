"""The *ceiling*: bare Flask + Flask-SQLAlchemy doing the least any Flask plugin could do per request.

Served under the same gunicorn settings as the example host, on the same database, with the same URLs and
bodies as the SCIM API, so the very same wrk scripts drive both. No authentication, no audit record, no
rate limit, no host hook, no SCIM document: one indexed statement (two for writes that echo a row) and a
small JSON answer. What each endpoint does, exactly:

* ``GET  /scim/v2/Users?filter=userName eq "x"``: ``SELECT`` one row by ``lower(email)`` (unique index on
  ``lower(email)``), answers ``{"totalResults": 1, "Resources": [row]}``.
* ``GET  /scim/v2/Users?startIndex=s&count=c``: ``SELECT ... ORDER BY id LIMIT c OFFSET s-1`` (primary key
  index), answers the page (no ``COUNT(*)``).
* ``GET  /scim/v2/Users/<id>``: ``SELECT`` by primary key, answers the row.
* ``POST /scim/v2/Users``: one ``INSERT`` (userName, name, active from the SCIM body), commit, 201 + row.
* ``PATCH /scim/v2/Users/<id>``: one ``UPDATE ... WHERE id`` of the columns the PatchOp names
  (``active``, ``name.givenName``, ``name.familyName``), commit, answers the row with one ``SELECT`` by id.
* ``PUT  /scim/v2/Users/<id>``: one ``UPDATE ... WHERE id`` of every mutable column, commit, answers the
  row with one ``SELECT`` by id.
* ``DELETE /scim/v2/Users/<id>``: one ``DELETE ... WHERE id``, commit, 204.

``flask --app benchmarks.ceiling ...`` or ``gunicorn 'benchmarks.ceiling:create_app()'``; the database is
``DATABASE_URL``. Its table is ``ceiling_users``, next to the plugin's tables in the same database.
"""

from __future__ import annotations

import os
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, abort, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Boolean, DateTime, Index, String, delete, func, insert, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)

PREFIX = "/scim/v2"
_FILTER = re.compile(r'^\s*userName\s+eq\s+"(.*)"\s*$', re.IGNORECASE)


class CeilingUser(db.Model):
    __tablename__ = "ceiling_users"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    given_name: Mapped[str] = mapped_column(String(200), default="")
    family_name: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# The lookup index: unique on the lower-cased email, as the plugin's on its folded userName. MariaDB
# indexes no expression: there the column's case-insensitive collation (the database's default) makes
# a plain unique index do the same, and the lookup compares the column itself.
Index("uq_ceiling_users_email_lower", func.lower(CeilingUser.email), unique=True).ddl_if(
    dialect=("sqlite", "postgresql")
)
Index("uq_ceiling_users_email", CeilingUser.email, unique=True).ddl_if(dialect=("mysql", "mariadb"))


def _email_is(value: str) -> Any:
    if db.engine.dialect.name in ("mysql", "mariadb"):
        return CeilingUser.email == value
    return func.lower(CeilingUser.email) == value.lower()


COLUMNS = (
    CeilingUser.id,
    CeilingUser.email,
    CeilingUser.given_name,
    CeilingUser.family_name,
    CeilingUser.active,
)


def _doc(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "userName": row.email,
        "name": {"givenName": row.given_name, "familyName": row.family_name},
        "active": bool(row.active),
    }


def _bool(value: Any) -> bool:
    return value.lower() == "true" if isinstance(value, str) else bool(value)


def _one(user_id: str) -> Any:
    row = db.session.execute(select(*COLUMNS).where(CeilingUser.id == user_id)).first()
    if row is None:
        abort(404)
    return row


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    # The example host's engine options: a plugin inherits the host's pool, pre-ping included.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
    db.init_app(app)

    @app.get(f"{PREFIX}/Users")
    def list_or_lookup() -> Response:
        match = _FILTER.match(request.args.get("filter", ""))
        if match:
            row = db.session.execute(select(*COLUMNS).where(_email_is(match.group(1)))).first()
            rows = [row] if row is not None else []
            return jsonify({"totalResults": len(rows), "Resources": [_doc(r) for r in rows]})
        start = max(int(request.args.get("startIndex", 1)), 1)
        count = min(max(int(request.args.get("count", 100)), 0), 1000)
        rows = db.session.execute(
            select(*COLUMNS).order_by(CeilingUser.id).offset(start - 1).limit(count)
        ).all()
        return jsonify({"startIndex": start, "itemsPerPage": len(rows), "Resources": [_doc(r) for r in rows]})

    @app.get(f"{PREFIX}/Users/<user_id>")
    def get_user(user_id: str) -> Response:
        return jsonify(_doc(_one(user_id)))

    @app.post(f"{PREFIX}/Users")
    def create_user() -> tuple[Response, int]:
        body = request.get_json(force=True)
        name = body.get("name") or {}
        values = {
            "id": str(uuid.uuid4()),
            "email": body["userName"],
            "given_name": name.get("givenName", ""),
            "family_name": name.get("familyName", ""),
            "active": _bool(body.get("active", True)),
            "created_at": datetime.now(UTC),
        }
        db.session.execute(insert(CeilingUser).values(**values))
        db.session.commit()
        return jsonify(_doc(type("Row", (), values))), 201

    @app.patch(f"{PREFIX}/Users/<user_id>")
    def patch_user(user_id: str) -> Response:
        paths = {"active": "active", "name.givenname": "given_name", "name.familyname": "family_name"}
        values = {}
        for op in request.get_json(force=True).get("Operations") or []:
            column = paths.get(str(op.get("path", "")).lower())
            if column:
                values[column] = _bool(op["value"]) if column == "active" else op["value"]
        if values:
            db.session.execute(update(CeilingUser).where(CeilingUser.id == user_id).values(**values))
            db.session.commit()
        return jsonify(_doc(_one(user_id)))

    @app.put(f"{PREFIX}/Users/<user_id>")
    def replace_user(user_id: str) -> Response:
        body = request.get_json(force=True)
        name = body.get("name") or {}
        db.session.execute(
            update(CeilingUser)
            .where(CeilingUser.id == user_id)
            .values(
                email=body["userName"],
                given_name=name.get("givenName", ""),
                family_name=name.get("familyName", ""),
                active=_bool(body.get("active", True)),
            )
        )
        db.session.commit()
        return jsonify(_doc(_one(user_id)))

    @app.delete(f"{PREFIX}/Users/<user_id>")
    def delete_user(user_id: str) -> Response:
        result = db.session.execute(delete(CeilingUser).where(CeilingUser.id == user_id))
        db.session.commit()
        if result.rowcount != 1:
            abort(404)
        return Response(status=204)

    return app
