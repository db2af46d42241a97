"""The host's Flask extensions, created once and bound in ``create_app``."""

from __future__ import annotations

from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

MYSQL_TABLE = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


class Base(DeclarativeBase):
    # Named constraints keep migrations and drift checks deterministic across databases.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    # MariaDB and MySQL: utf8mb4, compared exactly as on PostgreSQL (a ``_ci`` collation would make
    # "Ops" and "ops" one workspace name, and "josé" and "jose" one email).
    __table_args__: Any = MYSQL_TABLE


db = SQLAlchemy(model_class=Base)
