"""Alembic environment: runs on the connection :func:`clade.archive.db.upgrade` passes in.

Stand-alone use (``alembic -x url=sqlite:///.clade/clade.db revision --autogenerate``)
works too: without a passed connection it opens the URL given with ``-x url=...``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from clade.archive.tables import archive_metadata

config = context.config
target_metadata = archive_metadata()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from clade.archive.db import make_engine

    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///.clade/clade.db")
    with make_engine(url).begin() as conn:
        _run(conn)
