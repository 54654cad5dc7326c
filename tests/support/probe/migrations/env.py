from agora.platform.db.migrations import run_migrations_env
from tests.support.probe import Base

run_migrations_env(Base.metadata)
