"""PostgreSQL fixtures: a fresh database per test on the server named by $COCKPIT_TEST_PG_URL.

Start one with ``eval "$(tests/pg/start_pg.sh)"``; without the variable every PostgreSQL test is
skipped.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

PG_URL = os.environ.get("COCKPIT_TEST_PG_URL", "")


def _with_db(url: str, name: str) -> str:
    u = urlsplit(url)
    return urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))


@pytest.fixture(scope="session")
def pg_admin():
    """A psycopg2 connection (autocommit) to the server's maintenance database."""
    if not PG_URL:
        pytest.skip("COCKPIT_TEST_PG_URL is not set (start a server with tests/pg/start_pg.sh)")
    psycopg2 = pytest.importorskip("psycopg2")
    from cockpit.db.connection import postgres_params

    _, kw = postgres_params(_with_db(PG_URL, "postgres"))
    conn = psycopg2.connect(dbname="postgres", **kw)
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture
def pg_url_factory(pg_admin):
    """Call it to get the URL of a new, empty database; all are dropped after the test."""
    made: list[str] = []

    def make() -> str:
        name = "cockpit_t_" + uuid.uuid4().hex[:12]
        with pg_admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return _with_db(PG_URL, name)

    yield make
    from cockpit.db import close_database

    close_database()
    with pg_admin.cursor() as cur:
        for name in made:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_url_factory) -> str:
    return pg_url_factory()


@pytest.fixture
def pg_db(pg_url):
    """A fresh PostgreSQL database, migrated, bound to the models' proxy."""
    from cockpit.db import migrate, open_database

    db = open_database(pg_url)
    migrate(db)
    yield db
    db.close()


@pytest.fixture
def pg_cfg(pg_url):
    from cockpit.config import load_config

    return load_config(None, environ={}, overrides={"database.url": pg_url})
