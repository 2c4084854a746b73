"""SQLAlchemy (psycopg2 and psycopg 3 dialects) and pandas through the endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
import sqlalchemy as sa

from tests.drivers.support import DB_USER, Tenant

pytestmark = pytest.mark.e2e


def engine_url(tenant: Tenant, drivername: str, database: str) -> sa.URL:
    return sa.URL.create(
        drivername,
        username=DB_USER,
        password=tenant.key,
        host="127.0.0.1",
        port=tenant.server.pg_port,
        database=database,
        query={"sslmode": "require"},
    )


@pytest.fixture(params=["postgresql+psycopg2", "postgresql+psycopg"])
def engine(request: pytest.FixtureRequest, tenant: Tenant, database: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(engine_url(tenant, request.param, database))
    try:
        yield eng
    finally:
        eng.dispose()  # closes the pooled connections


def test_core_create_insert_select(engine: sa.Engine) -> None:
    metadata = sa.MetaData()
    table = sa.Table(
        f"sa_people_{engine.dialect.driver}",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("age", sa.Integer),
    )
    metadata.create_all(engine)
    assert sa.inspect(engine).has_table(table.name)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"name": "Alice", "age": 45}, {"name": "Bob", "age": 84}])
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table.c.name).where(table.c.age > 40).order_by(table.c.age))
        assert rows.scalars().all() == ["Alice", "Bob"]
        assert conn.execute(sa.text("SELECT :x * 2"), {"x": 21}).scalar_one() == 42
    # Pooled connections are reused across checkouts (pool_pre_ping would also work).
    with engine.connect() as first:
        pid = first.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    with engine.connect() as second:
        assert second.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() == pid
    metadata.drop_all(engine)


def test_owner_dot_name_in_a_url_string(tenant: Tenant, database: str) -> None:
    """Tools that cannot put a slash in a URL path use ``owner.dbname``."""
    url = (
        f"postgresql+psycopg://someone:{tenant.key}@127.0.0.1:{tenant.server.pg_port}/"
        f"{database.replace('/', '.')}?sslmode=require"
    )
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            assert conn.execute(sa.text("SELECT 'dotted'")).scalar_one() == "dotted"
    finally:
        eng.dispose()


def test_pandas_to_sql_and_read_sql(engine: sa.Engine) -> None:
    table = f"pd_frame_{engine.dialect.driver}"
    frame = pd.DataFrame(
        {
            "name": ["Alice", "Bob", "Catherine"],
            "age": [45, 84, 19],
            "score": [1.5, 2.25, None],
        }
    )
    # The returned count is the driver's rowcount (-1 with psycopg 3's executemany): not checked.
    frame.to_sql(table, engine, index=False, if_exists="replace", method="multi")
    back = pd.read_sql(f"SELECT * FROM {table} ORDER BY age DESC", engine)
    assert back["name"].tolist() == ["Bob", "Alice", "Catherine"]
    assert back["age"].tolist() == [84, 45, 19]
    assert back["score"].isna().tolist() == [False, False, True]
    with engine.connect() as conn:
        counted = pd.read_sql(
            sa.text(f"SELECT count(*) AS n FROM {table} WHERE age > :min_age"),
            conn,
            params={"min_age": 20},
        )
    assert counted["n"].tolist() == [2]
    assert sorted(pd.read_sql_table(table, engine)["name"]) == ["Alice", "Bob", "Catherine"]
