"""Which company a SCIM tenant is, and which admin is signed in to the settings page."""

from __future__ import annotations

from typing import Any

from flask import g
from sqlalchemy import select

from ..extensions import db
from ..models import (
    Company,
)
from .common import (
    _row_id,
    _seam,
    hookimpl,
)


@hookimpl
def scim_resolve_tenant(key: str) -> str | None:
    company = db.session.execute(select(Company).where(Company.slug == key)).scalar_one_or_none()
    if company is None and (company_id := _row_id(key)) is not None:
        company = db.session.get(Company, company_id)
    return str(company.id) if company else None


@hookimpl
def scim_current_admin() -> Any:
    user = g.get("user")
    if user is None:
        return None
    return _seam().AdminIdentity(
        user_id=str(user.id), display=user.email, tenant_id=str(user.company_id), is_admin=user.is_admin
    )
