"""Identity's tables: ``users``, ``addresses``, ``refresh_tokens``, ``revocations``, ``signing_keys``.

``revocations`` keeps the sessions that ended and the users that were disabled for as long as
their access tokens may be alive, for the other services' verifiers.

Ids are uuid4 strings minted before the insert (so the outbox event of the same transaction
can carry them); timestamps are naive UTC in the database and aware UTC in Python.

Refresh tokens are never stored: only the SHA-256 of the opaque token is, so a leaked table
cannot be replayed. A plain hash (not argon2) is right here because the token carries 256 bits
of randomness; there is nothing to brute-force.

Signing keys are stored as unencrypted PKCS#8 PEM. Encrypting them at rest (a KMS or an HSM
holding a wrapping key, or the database's own encryption) is a deployment concern and is not
invented here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from agora.platform.db.types import UTCDateTime, service_metadata, utcnow

ID_LENGTH = 36
EMAIL_LENGTH = 254
NAME_LENGTH = 100
HASH_LENGTH = 255
ROLE_LENGTH = 16
KID_LENGTH = 64
TOKEN_HASH_LENGTH = 64

ROLES = ("customer", "support", "admin")


class Base(DeclarativeBase):
    metadata = service_metadata()


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH), unique=True)
    """Normalised: trimmed and lower-cased, so the unique index catches every spelling."""
    password_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    display_name: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    role: Mapped[str] = mapped_column(String(ROLE_LENGTH), default="customer")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("role IN ('customer', 'support', 'admin')", name="role"),)


class Address(Base):
    __tablename__ = "addresses"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    recipient: Mapped[str] = mapped_column(String(NAME_LENGTH))
    line1: Mapped[str] = mapped_column(String(200))
    line2: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(NAME_LENGTH))
    region: Mapped[str] = mapped_column(String(NAME_LENGTH), default="")
    postal_code: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_addresses_user", "user_id", "created_at"),)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"))
    family_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    token_hash: Mapped[str] = mapped_column(String(TOKEN_HASH_LENGTH), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_refresh_tokens_family", "family_id"),
        Index("ix_refresh_tokens_user", "user_id"),
    )


class PasswordReset(Base):
    """A password reset link: the hash of its token, single use (``used_at``), until ``expires_at``."""

    __tablename__ = "password_resets"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(TOKEN_HASH_LENGTH), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_password_resets_user", "user_id"),)


class Revocation(Base):
    """An ended session (``kind`` "session", ``subject_id`` its sid) or a user cut off (``kind``
    "user", ``subject_id`` the user id, tokens issued before ``not_before`` refused), kept until
    ``expires_at``, when every access token it covers has expired. Every service's verifier holds
    a copy (``platform/auth/revocations.py``)."""

    __tablename__ = "revocations"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("kind IN ('session', 'user')", name="kind"),
        Index("ix_revocations_expires", "expires_at"),
    )


class SigningKey(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(KID_LENGTH), primary_key=True)
    private_key_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


metadata = Base.metadata
