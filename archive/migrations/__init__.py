"""Alembic migrations of the archive; applied by :func:`clade.archive.db.upgrade` on open."""
