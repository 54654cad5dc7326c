"""Password policy and argon2id hashing.

Policy (OWASP ASVS 2.1): 8 to 128 characters, any characters (passphrases welcome, nothing is
truncated or composed-rule checked), and not one of the most common passwords, from the list
shipped next to this module.

Hashing: argon2id through argon2-cffi with the cost from :class:`IdentitySettings` (at least
OWASP's m=19 MiB, t=2, p=1). A stored hash made with weaker parameters is upgraded the next time
its owner logs in (:meth:`Passwords.needs_rehash`).
"""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

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


class Passwords:
    """Hashes and verifies passwords with one set of argon2id parameters."""

    def __init__(self, *, memory_kib: int, time_cost: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        # Verified instead of a real hash when the email is unknown (or the account disabled), so
        # "no such user" costs the same argon2 work as "wrong password": response time must not
        # tell an attacker which emails have accounts.
        self._dummy_hash = self._hasher.hash("agora-dummy-password-never-matches")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash or self._dummy_hash, password) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)
