"""Password policy and hashing, without a database."""

from __future__ import annotations

import pytest
from argon2 import extract_parameters

from agora.services.identity.passwords import Passwords, common_passwords, policy_violation
from agora.services.identity.schemas import normalise_email


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords(memory_kib=19_456, time_cost=2, parallelism=1)


def test_the_shipped_list_is_loaded() -> None:
    assert len(common_passwords()) >= 200
    assert "password1" in common_passwords() and "qwerty123" in common_passwords()


@pytest.mark.parametrize(
    ("password", "accepted"),
    [
        ("short7!", False),
        ("exactly8", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("Password1", False),  # common, whatever the case
        (" password123 ", False),
        ("correct horse battery staple " * 2 + "ok", True),  # a 60-odd character passphrase
        ("é" * 8, True),
    ],
)
def test_policy(password: str, accepted: bool) -> None:
    assert (policy_violation(password) is None) is accepted


def test_a_64_character_passphrase_is_accepted() -> None:
    assert policy_violation("a quiet river bends past seven old mills under a pale blue sky!!"[:64]) is None


def test_hash_and_verify(passwords: Passwords) -> None:
    stored = passwords.hash("a long enough secret")
    assert stored.startswith("$argon2id$")
    assert extract_parameters(stored).memory_cost == 19_456
    assert passwords.verify(stored, "a long enough secret")
    assert not passwords.verify(stored, "a long enough secreT")
    assert not passwords.verify("not-a-hash", "anything")
    assert not passwords.needs_rehash(stored)


def test_unknown_user_runs_the_dummy_hash_and_never_matches(passwords: Passwords) -> None:
    assert not passwords.verify(None, "agora-dummy-password-never-matches")
    assert not passwords.verify(None, "anything at all")


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [(" Ada@Example.COM ", "ada@example.com"), ("a.b+tag@sub.example.org", "a.b+tag@sub.example.org")],
)
def test_email_normalisation(raw: str, normalised: str) -> None:
    assert normalise_email(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "plain",
        "@example.com",
        "a@",
        "a@localhost",
        "a@@example.com",
        "a b@example.com",
        "a@-x.com",
        "a..b@example.com",
        "a@example.123",
        "x" * 65 + "@example.com",
    ],
)
def test_malformed_emails_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        normalise_email(raw)
