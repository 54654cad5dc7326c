"""Identity's rules: accounts, logins, refresh-token rotation, addresses, admin changes.

No web framework and no commit here: the request's session commits the change and its outbox
event together. Failures are :class:`IdentityError` subclasses; the endpoints turn them into
problem responses.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agora.contracts.identity import (
    PasswordResetRequested,
    Revocations,
    Role,
    SessionRevoked,
    UserDisabled,
    UserRegistered,
    UserUpdated,
)
from agora.platform.auth.keys import mint_access_token
from agora.platform.auth.revocations import RevocationList
from agora.platform.db.session import after_commit
from agora.platform.db.types import iso_utc, utcnow
from agora.platform.errors import ConflictError, NotFoundError, ServiceError
from agora.platform.messaging import Outbox
from agora.services.identity.keys import active_signing_key
from agora.services.identity.models import Address, PasswordReset, RefreshToken, Revocation, User
from agora.services.identity.passwords import Passwords
from agora.services.identity.repository import IdentityRepository
from agora.services.identity.schemas import AddressIn, AddressUpdate, RegisterIn, UserAdminUpdate, normalise_email

# -- errors --------------------------------------------------------------------------------------


class IdentityError(ServiceError):
    """Every identity rule's refusal (the chassis answers it as a problem with its status)."""


class AuthenticationError(IdentityError):
    """Login or refresh refused. One message for every cause, so it tells an attacker nothing."""

    status = 401


INVALID_LOGIN = "The email or password is incorrect."
INVALID_REFRESH = "The refresh token is invalid, expired or already used; log in again."
INVALID_RESET = "This link has expired or was used already; ask for a new one."


# -- tokens --------------------------------------------------------------------------------------


def hash_refresh_token(token: str) -> str:
    """SHA-256 of the opaque token: what the table holds instead of the token."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class TokenConfig:
    issuer: str
    audience: str
    access_ttl_seconds: int
    refresh_ttl_seconds: int
    leeway_seconds: int = 30
    """The verifiers' clock skew: a token is accepted that long after ``exp``."""

    def last_token_expiry(self, now: datetime) -> datetime:
        """When every access token minted until ``now`` has expired, for every verifier."""
        return now + timedelta(seconds=self.access_ttl_seconds + self.leeway_seconds)


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int

    def document(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
        }


@dataclass(frozen=True)
class RefreshOutcome:
    """Either new tokens, or a refusal; ``reuse`` says a spent token came back (family revoked)."""

    tokens: IssuedTokens | None
    reuse: bool = False


# -- the service ---------------------------------------------------------------------------------


class IdentityService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        events: Outbox,
        passwords: Passwords,
        tokens: TokenConfig,
        revocations: RevocationList | None = None,
    ) -> None:
        self.session = session
        self.repository = IdentityRepository(session)
        self.events = events
        self.passwords = passwords
        self.tokens = tokens
        # this process's verifier list: identity refuses an ended session from its commit on,
        # without waiting for its own event to come back through the broker
        self.revocations = revocations

    # -- accounts -----------------------------------------------------------------------------

    async def register(self, body: RegisterIn, *, role: Role = "customer") -> User:
        # hashed before the first query: a request waiting for the hash pool holds no connection
        password_hash = await self.passwords.hash_in_pool(body.password)
        if await self.repository.user_by_email(body.email) is not None:
            raise ConflictError("An account with this email already exists.", field="email")
        now = utcnow()
        user = User(
            id=str(uuid.uuid4()),
            email=body.email,
            password_hash=password_hash,
            display_name=body.display_name or body.email.split("@", 1)[0],
            role=role,
            is_active=True,
            created_at=now,
            updated_at=now,
        )
        self.session.add(user)
        try:
            await self.session.flush()
        except IntegrityError:
            # a concurrent registration of the same email won the unique index
            raise ConflictError("An account with this email already exists.", field="email") from None
        event = UserRegistered(
            user_id=user.id, email=user.email, display_name=user.display_name, role=role, registered_at=now
        )
        await self.events.add(self.session, event, subject=user.id)
        return user

    async def login(self, email: str, password: str) -> IssuedTokens:
        try:
            normalised = normalise_email(email)
        except ValueError:
            normalised = None
        user = await self.repository.user_by_email(normalised) if normalised else None
        usable = user is not None and user.is_active
        # always one argon2 verification (the dummy hash when there is no usable account), so the
        # response time does not reveal whether the email is registered
        matches = await self.passwords.verify_in_pool(user.password_hash if usable and user else None, password)
        if not matches or user is None or not usable:
            raise AuthenticationError(INVALID_LOGIN)
        if self.passwords.needs_rehash(user.password_hash):
            user.password_hash = await self.passwords.hash_in_pool(password)
            user.updated_at = utcnow()
        return await self._issue(user, family_id=str(uuid.uuid4()))

    async def _issue(self, user: User, *, family_id: str) -> IssuedTokens:
        now = utcnow()
        opaque = secrets.token_urlsafe(32)
        self.session.add(
            RefreshToken(
                id=str(uuid.uuid4()),
                user_id=user.id,
                family_id=family_id,
                token_hash=hash_refresh_token(opaque),
                expires_at=now + timedelta(seconds=self.tokens.refresh_ttl_seconds),
                created_at=now,
            )
        )
        key = await active_signing_key(self.session)
        access = mint_access_token(
            key,
            subject=user.id,
            roles=[user.role],
            issuer=self.tokens.issuer,
            audience=self.tokens.audience,
            ttl_seconds=self.tokens.access_ttl_seconds,
            # who the caller is, for services that show it (the support inbox names the customer);
            # sid, the session (refresh-token family), is what logout revokes in every service
            extra_claims={"email": user.email, "name": user.display_name or "", "sid": family_id},
        )
        await self.session.flush()
        return IssuedTokens(access_token=access, refresh_token=opaque, expires_in=self.tokens.access_ttl_seconds)

    async def issue_service_token(self, service: str, secret: str, *, expected: str, ttl_seconds: int) -> str:
        """A short-lived access token for another service (``sub=service:<name>``, role ``service``).

        Services call each other's internal routes with it, e.g. the orders saga resuming after a
        restart, when no user's token is at hand. ``expected`` is the shared service secret.
        """
        if not hmac.compare_digest(secret.encode("utf-8"), expected.encode("utf-8")):
            raise AuthenticationError("The service credentials are not valid.")
        key = await active_signing_key(self.session)
        return mint_access_token(
            key,
            subject=f"service:{service}",
            roles=["service"],
            issuer=self.tokens.issuer,
            audience=self.tokens.audience,
            ttl_seconds=ttl_seconds,
        )

    async def refresh(self, opaque: str) -> RefreshOutcome:
        """Rotate: the presented token is spent and a new one of the same family is issued.

        A spent token presented again means two parties hold it (one of them stole it): the
        whole family is revoked, which also logs out whoever holds the newest token. The caller
        must commit that revocation even though the answer is a 401.
        """
        now = utcnow()
        row = await self.repository.refresh_token_by_hash(hash_refresh_token(opaque))
        if row is None or row.revoked_at is not None:
            return RefreshOutcome(None)
        if row.used_at is not None:
            await self._end_session(row, now)
            return RefreshOutcome(None, reuse=True)
        if row.expires_at <= now:
            return RefreshOutcome(None)
        user = await self.repository.user_by_id(row.user_id)
        if user is None or not user.is_active:
            await self.repository.revoke_family(row.family_id, now)
            return RefreshOutcome(None)
        # a conditional UPDATE, not "read then write": two concurrent refreshes with one token
        # (SQLite has no SELECT ... FOR UPDATE) cannot both win; the loser is treated as reuse
        if not await self.repository.spend(row.id, now):
            await self._end_session(row, now)
            return RefreshOutcome(None, reuse=True)
        return RefreshOutcome(await self._issue(user, family_id=row.family_id))

    async def logout(self, opaque: str) -> None:
        """End the token's session (its whole family) everywhere. Unknown tokens are ignored."""
        row = await self.repository.refresh_token_by_hash(hash_refresh_token(opaque))
        if row is not None and row.revoked_at is None:
            await self._end_session(row, utcnow())

    async def logout_session(self, user_id: str, session_id: object) -> None:
        """End the session an access token names (its ``sid``), when it is the caller's."""
        if not isinstance(session_id, str):
            return  # a token minted before sessions were named: it expires on its own
        row = await self.repository.refresh_token_of_family(session_id)
        if row is not None and row.user_id == user_id and row.revoked_at is None:
            await self._end_session(row, utcnow())

    async def _end_session(self, row: RefreshToken, now: datetime) -> None:
        """No refresh token of the family works any more, nor (once every service has heard the
        event, within seconds) any access token carrying its ``sid``."""
        await self.repository.revoke_family(row.family_id, now)
        expires = self.tokens.last_token_expiry(now)
        await self.repository.revoke("session", row.family_id, user_id=row.user_id, not_before=now, expires=expires)
        event = SessionRevoked(session_id=row.family_id, user_id=row.user_id, revoked_at=now, expires_at=expires)
        await self.events.add(self.session, event, subject=row.user_id)
        if self.revocations is not None:
            after_commit(self.session, partial(self.revocations.revoke_session, event))

    async def _cut_off_user(self, user_id: str, now: datetime) -> None:
        """Every session of the user ends; their tokens issued before ``now`` die everywhere."""
        await self.repository.revoke_user_tokens(user_id, now)
        expires = self.tokens.last_token_expiry(now)
        await self.repository.revoke("user", user_id, user_id=user_id, not_before=now, expires=expires)
        event = UserDisabled(user_id=user_id, not_before=now, expires_at=expires)
        await self.events.add(self.session, event, subject=user_id)
        if self.revocations is not None:
            after_commit(self.session, partial(self.revocations.disable_user, event))

    # -- password reset -------------------------------------------------------------------------

    async def request_password_reset(self, email: str, *, ttl: timedelta) -> None:
        """A single-use link, valid for ``ttl``, emailed (through the event) to an active account;
        nothing for an unknown or disabled address, and the caller answers the same either way,
        so the form does not tell who has an account."""
        try:
            user = await self.repository.user_by_email(normalise_email(email))
        except ValueError:
            return
        if user is None or not user.is_active:
            return
        token = secrets.token_urlsafe(32)
        now = utcnow()
        reset = PasswordReset(
            id=str(uuid.uuid4()),
            user_id=user.id,
            token_hash=hash_refresh_token(token),
            expires_at=now + ttl,
            created_at=now,
        )
        self.session.add(reset)
        await self.session.flush()
        event = PasswordResetRequested(reset_id=reset.id, user_id=user.id, token=token, expires_at=reset.expires_at)
        await self.events.add(self.session, event, subject=user.id)

    async def reset_password(self, token: str, password: str) -> None:
        """The new password, once per link and before it expires; every session of the account ends
        (tokens issued before now die everywhere), so whoever knew the old password is out."""
        now = utcnow()
        reset = await self.repository.password_reset_by_hash(hash_refresh_token(token))
        user = await self.repository.user_by_id(reset.user_id) if reset is not None else None
        if reset is None or reset.used_at is not None or reset.expires_at <= now or user is None or not user.is_active:
            raise IdentityError(INVALID_RESET, field="token")
        reset.used_at = now
        user.password_hash = await self.passwords.hash_in_pool(password)
        user.updated_at = now
        await self._cut_off_user(user.id, now)

    # -- profile --------------------------------------------------------------------------------

    async def active_user(self, user_id: str) -> User:
        user = await self.repository.user_by_id(user_id)
        if user is None or not user.is_active:
            raise AuthenticationError("This account does not exist or is disabled.")
        return user

    async def update_profile(self, user: User, changes: dict[str, Any]) -> User:
        if "display_name" in changes and changes["display_name"] is not None:
            user.display_name = changes["display_name"]
            user.updated_at = utcnow()
            await self.session.flush()
        return user

    # -- addresses ------------------------------------------------------------------------------

    async def addresses(self, user: User) -> list[Address]:
        return list(await self.repository.addresses(user.id))

    async def address(self, user: User, address_id: str) -> Address:
        address = await self.repository.address(user.id, address_id)
        if address is None:
            # the same answer whether the address does not exist or belongs to someone else
            raise NotFoundError("No such address.")
        return address

    async def add_address(self, user: User, body: AddressIn) -> Address:
        now = utcnow()
        address = Address(id=str(uuid.uuid4()), user_id=user.id, created_at=now, updated_at=now, **body.model_dump())
        self.session.add(address)
        await self.session.flush()
        return address

    async def update_address(self, user: User, address_id: str, body: AddressUpdate) -> Address:
        address = await self.address(user, address_id)
        changes = body.model_dump(exclude_unset=True)
        for name, value in changes.items():
            if value is None:
                raise _required(name)
            setattr(address, name, value)
        if changes:
            address.updated_at = utcnow()
            await self.session.flush()
        return address

    async def delete_address(self, user: User, address_id: str) -> None:
        address = await self.address(user, address_id)
        await self.session.delete(address)
        await self.session.flush()

    # -- administration -------------------------------------------------------------------------

    async def list_users(self, *, email_prefix: str | None, after: tuple[str, str] | None, limit: int) -> list[User]:
        """Up to ``limit`` users by email then id, after the (email, id) ``after``; ``email_prefix``
        as :func:`email_prefix_filter` made it."""
        return await self.repository.list_users(email_prefix=email_prefix, after=after, limit=limit)

    async def update_user(self, admin_id: str, user_id: str, body: UserAdminUpdate) -> User:
        user = await self.repository.user_by_id(user_id)
        if user is None:
            raise NotFoundError("No such user.")
        changes = body.model_dump(exclude_unset=True)
        for name, value in changes.items():
            if value is None:
                raise _required(name)
        if user.id == admin_id and (changes.get("is_active") is False or changes.get("role", "admin") != "admin"):
            # an admin cannot lock themselves out; another admin must do it
            raise ConflictError("You cannot disable yourself or drop your own admin role.", field="body")
        now = utcnow()
        if "role" in changes:
            user.role = changes["role"]
        if "is_active" in changes:
            user.is_active = changes["is_active"]
            if not user.is_active:
                # disabling ends every session: no refresh token of theirs works any more, and
                # their access tokens stop working in every service within seconds
                await self._cut_off_user(user.id, now)
        if changes:
            user.updated_at = now
            await self.session.flush()
            event = UserUpdated(
                user_id=user.id, role=cast(Role, user.role), is_active=user.is_active, changed_by=admin_id
            )
            await self.events.add(self.session, event, subject=user.id)
        return user


def email_prefix_filter(raw: str | None) -> str | None:
    """The admin list's email filter as the query compares it (emails are stored lower-case)."""
    return raw.strip().lower() if raw else None


def _required(name: str) -> IdentityError:
    error = IdentityError(f"{name} cannot be null; leave it out to keep the current value.", field=f"body.{name}")
    error.status = 422
    return error


def revocations_document(rows: list[Revocation]) -> Revocations:
    """The revocations in force, as every service's periodic sync reads them."""
    return Revocations(
        sessions=[
            SessionRevoked(session_id=r.subject_id, user_id=r.user_id, revoked_at=r.not_before, expires_at=r.expires_at)
            for r in rows
            if r.kind == "session"
        ],
        users=[
            UserDisabled(user_id=r.subject_id, not_before=r.not_before, expires_at=r.expires_at)
            for r in rows
            if r.kind == "user"
        ],
    )


def user_document(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "role": user.role,
        "is_active": user.is_active,
        "created_at": iso_utc(user.created_at),
        "updated_at": iso_utc(user.updated_at),
    }


def address_document(address: Address) -> dict[str, Any]:
    return {
        "id": address.id,
        "label": address.label,
        "recipient": address.recipient,
        "line1": address.line1,
        "line2": address.line2,
        "city": address.city,
        "region": address.region,
        "postal_code": address.postal_code,
        "country": address.country,
        "created_at": iso_utc(address.created_at),
        "updated_at": iso_utc(address.updated_at),
    }
