"""The identity service: accounts, passwords, tokens (ES256 access, rotating refresh), JWKS,
profiles and addresses, admin user management, ``identity.user.*`` events.

Its spec is the only thing the registry needs; everything is built by the chassis at start-up.
"""

from __future__ import annotations

from pathlib import Path

from agora.platform.service import ServiceSpec
from agora.services.identity.auth import revocations_source
from agora.services.identity.endpoints import router
from agora.services.identity.keys import rotate_signing_key
from agora.services.identity.models import metadata
from agora.services.identity.port import DirectIdentity
from agora.services.identity.runtime import start
from agora.services.identity.settings import IdentitySettings

spec = ServiceSpec(
    name="identity",
    title="Agora identity",
    settings_cls=IdentitySettings,
    router=router,
    start=start,
    metadata=metadata,
    migrations_dir=Path(__file__).parent / "migrations",
    revocations_source=revocations_source,
    port=DirectIdentity,
)

__all__ = ["IdentitySettings", "rotate_signing_key", "spec"]
