"""Alembic environment: runs on the connection handed over by `carnet.db.upgrade`."""

from alembic import context

from carnet.models import Base
from carnet.partitions import include_object, is_partitioned

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from carnet.config import database_url
        from carnet.db import make_engine

        with make_engine(database_url()).begin() as conn:
            _run_on(conn)
    else:
        _run_on(connection)


def _run_on(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object(is_partitioned(connection)),
    )
    with context.begin_transaction():
        context.run_migrations()


run()
