from tests.support.probe import Base

from agora.platform.db.migrations import run_migrations_env

run_migrations_env(Base.metadata)
