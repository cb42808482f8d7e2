"""Opening the archive's database: engine set-up, SQLite pragmas, migrations on open.

SQLite runs in WAL mode with a busy timeout, and every write transaction starts with
``BEGIN IMMEDIATE`` (an SQLAlchemy ``begin`` event), so several writer processes queue for
the lock instead of failing with ``database is locked``. Read-only work asks for a
deferred BEGIN with the ``clade_read_only`` execution option, so readers never wait.
Alembic migrations shipped in ``migrations/`` are applied on open (upgrade to head); a
database stamped with a revision this code does not know was written by a newer Clade
and is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from clade.archive.errors import ArchiveError, ConfigError, NewerSchemaError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The newest revision under migrations/versions (a test keeps the two equal). Opening an
# archive already at this revision needs no Alembic import: a CLI command starts faster.
SCHEMA_HEAD = "0002"
READ_ONLY = {"clade_read_only": True}
BUSY_TIMEOUT_MS = 60_000
_PG_MIGRATION_LOCK = 0x434C414445  # "CLADE": serialises concurrent upgrades on PostgreSQL


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str) -> Engine:
    """An engine for `url`, with the SQLite set-up described above when it is SQLite."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"not a database URL: {url!r}",
            hint="use sqlite:///path/clade.db or postgresql+psycopg://user:pass@host/db",
        ) from exc
    if not is_sqlite(url):
        try:
            return create_engine(url, pool_pre_ping=True)
        except (NoSuchModuleError, ModuleNotFoundError) as exc:
            raise ConfigError(
                f"no driver for {parsed.drivername}: {exc}",
                hint="pip install 'clade-agents[postgres]' for postgresql+psycopg URLs",
            ) from exc
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get("clade_read_only", False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def alembic_config() -> Config:
    """An Alembic config pointing at the migrations shipped in this package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect().execution_options(**READ_ONLY) as conn:
        return MigrationContext.configure(conn).get_current_revision()


def stamped_revision(engine: Engine) -> str | None:
    """The revision recorded in the database, read without Alembic; None for a new one."""
    from sqlalchemy import inspect, text
    from sqlalchemy.exc import OperationalError

    try:
        with engine.connect().execution_options(**READ_ONLY) as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT max(version_num) FROM alembic_version")).scalar()
    except OperationalError as exc:
        raise ArchiveError(
            f"cannot open the archive database: {str(exc.orig).strip()}",
            hint="check the --db URL, or CLADE_DB_URL / CLADE_HOME",
        ) from exc


def upgrade(engine: Engine) -> None:
    """Bring the schema to this code's head; refuse a database from a newer Clade."""
    current = stamped_revision(engine)
    if current == SCHEMA_HEAD:
        return
    from alembic import command
    from alembic.script import ScriptDirectory

    config = alembic_config()
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    known = {rev.revision for rev in script.walk_revisions()}
    if current is not None and current not in known:
        raise NewerSchemaError(
            f"this archive was written by a newer Clade (schema revision {current}, "
            f"this Clade knows up to {head}); upgrade",
            hint="pip install -U clade-agents",
        )
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
