"""Password policy and argon2id hashing.

Policy (OWASP ASVS 2.1): 8 to 128 characters, any characters (passphrases welcome, nothing is
truncated or composed-rule checked), and not one of the most common passwords, from the list
shipped next to this module.

Hashing: argon2id through argon2-cffi with the cost from :class:`IdentitySettings` (at least
OWASP's m=19 MiB, t=2, p=1). A stored hash made with weaker parameters is upgraded the next time
its owner logs in (:meth:`Passwords.needs_rehash`).

Off the event loop: one argon2id hash costs ~19 ms of CPU and 19 MiB. Run inside an async handler
it would stall every other request of the process for that long (in embedded mode, every
service's), so requests hash and verify through :meth:`Passwords.hash_in_pool` and
:meth:`Passwords.verify_in_pool`, on the chassis's :class:`~agora.platform.workers.WorkerPool`
(argon2-cffi releases the GIL while it computes). The pool runs at most ``password_hash_threads``
hashes at once, which bounds their memory; at most ``password_hash_queue`` more wait, and a login
storm beyond that is answered 503 with ``Retry-After`` instead of queueing without end.
"""

from __future__ import annotations

import os
import unicodedata
from functools import cache, cached_property, partial
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from agora.platform.workers import WorkerPool

MIN_LENGTH = 8
MAX_LENGTH = 128
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def policy_violation(password: str) -> str | None:
    """Why ``password`` is not acceptable, or None when it is."""
    # length in code points after NFC, so "é" typed either way counts once (ASVS 2.1.1)
    length = len(unicodedata.normalize("NFC", password))
    if length < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if length > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters"
    if password.strip().lower() in common_passwords():
        return "is one of the most common passwords; choose another"
    return None


def default_hash_threads() -> int:
    """Hashes at once when the setting is unset: every CPU this process may use but one, which
    stays the event loop's (at least one, at most four: each running hash holds its memory)."""
    return max(1, min(4, len(os.sched_getaffinity(0)) - 1))


class Passwords:
    """Hashes and verifies passwords with one set of argon2id parameters.

    ``hash``/``verify`` compute where they are called (tests, the CLI); a running service calls
    ``hash_in_pool``/``verify_in_pool``, which compute on ``pool``'s threads (see the module doc).
    """

    def __init__(self, *, memory_kib: int, time_cost: int, parallelism: int, pool: WorkerPool | None = None) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self.pool = pool

    @cached_property
    def _dummy_hash(self) -> str:
        # Verified instead of a real hash when the email is unknown (or the account disabled), so
        # "no such user" costs the same argon2 work as "wrong password": response time must not
        # tell an attacker which emails have accounts. Made on first use, on a pool thread.
        return self._hasher.hash("agora-dummy-password-never-matches")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash or self._dummy_hash, password) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)

    async def hash_in_pool(self, password: str) -> str:
        """:meth:`hash` on a pool thread; ``PoolBusy`` (503) when the pool is saturated."""
        if self.pool is None:
            return self.hash(password)
        return await self.pool.run(1, partial(self.hash, password))

    async def verify_in_pool(self, stored_hash: str | None, password: str) -> bool:
        """:meth:`verify` on a pool thread; ``PoolBusy`` (503) when the pool is saturated."""
        if self.pool is None:
            return self.verify(stored_hash, password)
        return await self.pool.run(1, partial(self.verify, stored_hash, password))

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
