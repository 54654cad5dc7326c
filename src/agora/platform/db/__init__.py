"""Database access: engines, the commit point, migrations."""

from agora.platform.db.engine import create_engine, create_sessionmaker, dialect_of
from agora.platform.db.session import Session, after_commit, request_session, unit_of_work

__all__ = [
    "Session",
    "after_commit",
    "create_engine",
    "create_sessionmaker",
    "dialect_of",
    "request_session",
    "unit_of_work",
]
