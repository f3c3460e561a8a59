"""Versioned SQL migrations, applied at start-up inside the owning service's schema."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from importlib import resources

import asyncpg
import structlog

log = structlog.get_logger(__name__)

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def checked_identifier(name: str) -> str:
    """Return ``name`` if it is safe to splice into SQL as a schema or table name."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a valid lower-case SQL identifier")
    return name


@dataclass(frozen=True)
class Migration:
    component: str
    version: int
    name: str
    sql: str


def migrations_from_package(component: str, package: str, folder: str = "sql") -> list[Migration]:
    """Read ``NNNN_name.sql`` files shipped inside ``package/folder``, in version order."""
    found: list[Migration] = []
    for entry in resources.files(package).joinpath(folder).iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(
                Migration(component, int(match[1]), match[2], entry.read_text(encoding="utf-8"))
            )
    return sorted(found, key=lambda m: m.version)


def core_migrations() -> list[Migration]:
    """The event store, relay, inbox, idempotency and dead-letter tables every service has."""
    return migrations_from_package("core", "cordon_core")


async def apply_migrations(
    conn: asyncpg.Connection, schema: str, migrations: list[Migration]
) -> list[Migration]:
    """Create ``schema`` if needed and apply the migrations it has not seen yet.

    Runs under an advisory lock so that two replicas starting together do not race.
    Returns the migrations applied by this call.
    """
    schema = checked_identifier(schema)
    applied_now: list[Migration] = []
    lock_key = zlib.crc32(f"cordon-migrations:{schema}".encode())
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key)
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                    component text NOT NULL, version integer NOT NULL, name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (component, version))"""
        )
        done = {
            (r["component"], r["version"])
            for r in await conn.fetch(f"SELECT component, version FROM {schema}.schema_migrations")
        }
        for migration in migrations:
            if (migration.component, migration.version) in done:
                continue
            await conn.execute(migration.sql.replace("{schema}", schema))
            await conn.execute(
                f"INSERT INTO {schema}.schema_migrations (component, version, name)"
                " VALUES ($1, $2, $3)",
                migration.component,
                migration.version,
                migration.name,
            )
            applied_now.append(migration)
            log.info(
                "migration_applied",
                schema=schema,
                component=migration.component,
                version=migration.version,
                name=migration.name,
            )
    return applied_now
