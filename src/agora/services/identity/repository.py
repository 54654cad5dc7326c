"""Every identity query.

Addresses are always read through :meth:`IdentityRepository._addresses_of`, which already
restricts to the owner, so "user A cannot see user B's address" is enforced in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agora.services.identity.models import Address, PasswordReset, RefreshToken, Revocation, SigningKey, User


class IdentityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- users ----------------------------------------------------------------------------------

    async def user_by_id(self, user_id: str) -> User | None:
        return await self.session.get(User, user_id)

    async def user_by_email(self, email: str) -> User | None:
        result = await self.session.execute(select(User).where(User.email == email))
        return result.scalars().first()

    async def list_users(self, *, email_prefix: str | None, after: tuple[str, str] | None, limit: int) -> list[User]:
        """Users ordered by email then id; ``after`` is the previous page's last (email, id)."""
        statement = select(User).order_by(User.email, User.id).limit(limit)
        if email_prefix:
            escaped = email_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            statement = statement.where(User.email.like(escaped + "%", escape="\\"))
        if after is not None:
            email, user_id = after
            statement = statement.where((User.email > email) | ((User.email == email) & (User.id > user_id)))
        return list((await self.session.execute(statement)).scalars())

    # -- addresses ------------------------------------------------------------------------------

    def _addresses_of(self, user_id: str) -> Select[Address]:
        return select(Address).where(Address.user_id == user_id)

    async def addresses(self, user_id: str) -> Sequence[Address]:
        statement = self._addresses_of(user_id).order_by(Address.created_at, Address.id)
        return list((await self.session.execute(statement)).scalars())

    async def address(self, user_id: str, address_id: str) -> Address | None:
        result = await self.session.execute(self._addresses_of(user_id).where(Address.id == address_id))
        return result.scalars().first()

    # -- refresh tokens -------------------------------------------------------------------------

    async def refresh_token_by_hash(self, token_hash: str) -> RefreshToken | None:
        statement = select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
        return (await self.session.execute(statement)).scalars().first()

    async def password_reset_by_hash(self, token_hash: str) -> PasswordReset | None:
        statement = select(PasswordReset).where(PasswordReset.token_hash == token_hash).with_for_update()
        return (await self.session.execute(statement)).scalars().first()

    async def refresh_token_of_family(self, family_id: str) -> RefreshToken | None:
        statement = select(RefreshToken).where(RefreshToken.family_id == family_id).limit(1).with_for_update()
        return (await self.session.execute(statement)).scalars().first()

    async def spend(self, token_id: str, now: datetime) -> bool:
        """Mark a refresh token used, atomically: False when another request spent it first."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def revoke_family(self, family_id: str, now: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_user_tokens(self, user_id: str, now: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    # -- revocations ----------------------------------------------------------------------------

    async def revoke(
        self, kind: str, subject_id: str, *, user_id: str, not_before: datetime, expires: datetime
    ) -> None:
        """Records (or moves later) a revocation; expired ones are dropped on the way."""
        await self.session.execute(delete(Revocation).where(Revocation.expires_at <= not_before))
        row = await self.session.get(Revocation, (kind, subject_id))
        if row is None:
            self.session.add(
                Revocation(kind=kind, subject_id=subject_id, user_id=user_id, not_before=not_before, expires_at=expires)
            )
        else:
            row.not_before, row.expires_at = max(row.not_before, not_before), max(row.expires_at, expires)
        await self.session.flush()

    async def revocations_in_force(self, now: datetime) -> Sequence[Revocation]:
        statement = select(Revocation).where(Revocation.expires_at > now).order_by(Revocation.not_before)
        return list((await self.session.execute(statement)).scalars())

    # -- signing keys ---------------------------------------------------------------------------

    async def active_signing_key(self) -> SigningKey | None:
        statement = (
            select(SigningKey).where(SigningKey.retired_at.is_(None)).order_by(SigningKey.created_at.desc()).limit(1)
        )
        return (await self.session.execute(statement)).scalars().first()

    async def publishable_signing_keys(self, retired_after: datetime) -> Sequence[SigningKey]:
        """The active key and keys retired after ``retired_after`` (their tokens may still be valid)."""
        statement = (
            select(SigningKey)
            .where(SigningKey.retired_at.is_(None) | (SigningKey.retired_at > retired_after))
            .order_by(SigningKey.created_at.desc())
        )
        return list((await self.session.execute(statement)).scalars())
