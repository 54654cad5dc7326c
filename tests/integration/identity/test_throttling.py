"""Login throttling through the HTTP API, on memory and on Redis storage.

Throttling does not depend on the database, so these run on SQLite only; each test starts its
own identity app (its own throttle settings and counters) over one module database. Windows are
a few seconds long; "after the window" is awaited by polling under a deadline, never a fixed
sleep.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from agora.platform.settings import ServiceSettings
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.brokers import unique_name
from agora.services.identity import IdentitySettings, spec

API = "/api/identity"
PASSWORD = "correct horse battery staple"
WRONG = "not the right password"

_numbers = itertools.count(1)

Login = Callable[[str, str, str], Awaitable[httpx.Response]]


def _email() -> str:
    return f"throttled{next(_numbers)}-{unique_name('u')}@example.com"


@pytest.fixture(scope="module")
def throttle_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('throttle-db') / 'identity.db'}"


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "async+memory://"
    return "async+" + str(request.getfixturevalue("redis_url"))


class App:
    def __init__(self, embedded: Any, stack: AsyncExitStack) -> None:
        self.embedded = embedded
        self.stack = stack
        self.clients: dict[str, httpx.AsyncClient] = {}

    async def client(self, address: str) -> httpx.AsyncClient:
        """A client whose requests come from ``address`` (the ASGI scope's client)."""
        if address not in self.clients:
            transport = httpx.ASGITransport(app=self.embedded, raise_app_exceptions=False, client=(address, 1234))
            self.clients[address] = await self.stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://agora.test")
            )
        return self.clients[address]

    async def login(self, address: str, email: str, password: str) -> httpx.Response:
        client = await self.client(address)
        return await client.post(f"{API}/login", json={"email": email, "password": password})

    async def register(self, email: str) -> None:
        client = await self.client("10.255.255.1")
        response = await client.post(f"{API}/register", json={"email": email, "password": PASSWORD})
        assert response.status_code == 201, response.text


@asynccontextmanager
async def identity_app(db: str, jwks_file: Path, tmp: Path, **throttle: Any) -> AsyncIterator[App]:
    platform = platform_for_tests(tmp, jwks_file=jwks_file)
    throttle.setdefault("throttle_key_prefix", unique_name("throttle-test"))
    settings: dict[str, ServiceSettings] = {"identity": IdentitySettings(database_url=db, **throttle)}
    async with AsyncExitStack() as stack:
        _client, embedded = await stack.enter_async_context(running_services([spec], platform, settings))
        yield App(embedded, stack)


async def redis_keys(storage: str, prefix: str) -> list[str]:
    """The throttle's keys on the Redis server (proof the counters really live there)."""
    import redis.asyncio as redis

    client = redis.Redis.from_url(storage.removeprefix("async+"))
    try:
        return [key.decode() async for key in client.scan_iter(match=f"{prefix}*")]
    finally:
        await client.aclose()


def assert_throttled(response: httpx.Response, *, window: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 429
    assert body["title"] == "Too Many Requests"
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= window
    assert "access_token" not in body


async def login_when_allowed(app: App, address: str, email: str, *, deadline_seconds: float) -> httpx.Response:
    """Polls a correct login until it stops being throttled (refusals are not counted)."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        response = await app.login(address, email, PASSWORD)
        if response.status_code != 429 or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.1)  # polling a clock-driven window: there is no event to await


async def test_200_wrong_passwords_from_50_addresses_are_throttled_and_the_user_gets_back_in(
    storage: str, throttle_db: str, jwks_file: Path, tmp_path: Path
) -> None:
    window = 4
    prefix = unique_name("throttle-test")
    async with identity_app(
        throttle_db,
        jwks_file,
        tmp_path,
        throttle_storage_url=storage,
        throttle_window_seconds=window,
        throttle_key_prefix=prefix,
    ) as app:
        victim = _email()
        await app.register(victim)

        started = time.monotonic()
        statuses = []
        for attempt in range(200):
            response = await app.login(f"10.0.0.{attempt % 50 + 1}", victim, WRONG)
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert_throttled(response, window=window)
        attack_seconds = time.monotonic() - started

        assert 200 not in statuses
        assert set(statuses) <= {401, 429}
        assert 429 in statuses[:10], statuses[:10]
        assert statuses[:5] == [401] * 5
        assert statuses[5] == 429  # the 6th guess is refused: 5 per window
        # at most 5 guesses per window were ever verified, however fast the attacker went
        assert statuses.count(401) <= 5 * (1 + int(attack_seconds // window) + 1)
        if storage.startswith("async+redis"):
            keys = await redis_keys(storage, prefix)
            assert keys, "the counters are not in Redis"
            assert not any(victim in key or "10.0.0." in key for key in keys)  # digests only

        # after the window the real user, from an address of their own, logs in
        response = await login_when_allowed(app, "192.0.2.10", victim, deadline_seconds=window + 10)
        assert response.status_code == 200, response.text
        assert response.json()["access_token"]


async def test_the_right_password_is_refused_while_the_account_is_throttled(
    throttle_db: str, jwks_file: Path, tmp_path: Path
) -> None:
    """A throttled request never reaches the password check, so it cannot be a successful guess."""
    window = 60
    async with identity_app(throttle_db, jwks_file, tmp_path, throttle_window_seconds=window) as app:
        victim = _email()
        await app.register(victim)
        for attempt in range(5):
            assert (await app.login(f"10.1.0.{attempt + 1}", victim, WRONG)).status_code == 401
        refused = await app.login("10.1.0.99", victim, PASSWORD)
        assert_throttled(refused, window=window)
        # other accounts are not affected
        other = _email()
        await app.register(other)
        assert (await app.login("10.1.0.99", other, PASSWORD)).status_code == 200


async def test_a_known_address_is_not_locked_out_by_an_attack_from_elsewhere(
    storage: str, throttle_db: str, jwks_file: Path, tmp_path: Path
) -> None:
    window = 60
    async with identity_app(
        throttle_db, jwks_file, tmp_path, throttle_storage_url=storage, throttle_window_seconds=window
    ) as app:
        victim = _email()
        await app.register(victim)
        home = "198.51.100.7"
        assert (await app.login(home, victim, PASSWORD)).status_code == 200

        statuses = [(await app.login(f"10.2.0.{n % 50 + 1}", victim, WRONG)).status_code for n in range(60)]
        assert statuses.count(401) == 5
        assert 200 not in statuses

        # the real user at home still gets in; a new address does not
        assert (await app.login(home, victim, PASSWORD)).status_code == 200
        assert_throttled(await app.login("10.2.1.1", victim, PASSWORD), window=window)
        # but guessing from the known address is throttled on its own counter
        home_guesses = [(await app.login(home, victim, WRONG)).status_code for _ in range(7)]
        assert home_guesses == [401] * 5 + [429] * 2


async def test_many_accounts_from_one_address_are_throttled(
    storage: str, throttle_db: str, jwks_file: Path, tmp_path: Path
) -> None:
    window = 60
    async with identity_app(
        throttle_db,
        jwks_file,
        tmp_path,
        throttle_storage_url=storage,
        throttle_window_seconds=window,
        throttle_address_failures=20,
    ) as app:
        real = _email()
        await app.register(real)
        sprayer = "203.0.113.66"
        statuses = []
        for _ in range(25):
            response = await app.login(sprayer, _email(), WRONG)  # a different account every time
            statuses.append(response.status_code)
        assert statuses[:20] == [401] * 20
        for response_status in statuses[20:]:
            assert response_status == 429
        throttled = await app.login(sprayer, real, PASSWORD)
        assert_throttled(throttled, window=window)
        # the limit is the address's: the same account from another address is fine
        assert (await app.login("203.0.113.67", real, PASSWORD)).status_code == 200


async def test_address_throttle_ignores_x_forwarded_for(throttle_db: str, jwks_file: Path, tmp_path: Path) -> None:
    async with identity_app(
        throttle_db, jwks_file, tmp_path, throttle_window_seconds=60, throttle_address_failures=3
    ) as app:
        client = await app.client("203.0.113.80")
        statuses = []
        for n in range(5):
            response = await client.post(
                f"{API}/login",
                json={"email": _email(), "password": WRONG},
                headers={"X-Forwarded-For": f"192.0.2.{n + 1}"},
            )
            statuses.append(response.status_code)
        assert statuses == [401, 401, 401, 429, 429]


def _resets_of(db: str, email: str) -> int:
    """How many reset links the account has (each is an email sent)."""
    with sqlite3.connect(db.removeprefix("sqlite+aiosqlite:///")) as connection:
        row = connection.execute(
            "SELECT count(*) FROM password_resets JOIN users ON users.id = password_resets.user_id"
            " WHERE users.email = ?",
            (email,),
        ).fetchone()
    return int(row[0])


async def test_password_reset_requests_are_throttled_per_account_and_per_address(
    storage: str, throttle_db: str, jwks_file: Path, tmp_path: Path
) -> None:
    window = 60
    prefix = unique_name("throttle-test")
    async with identity_app(
        throttle_db,
        jwks_file,
        tmp_path,
        throttle_storage_url=storage,
        throttle_window_seconds=window,
        throttle_key_prefix=prefix,
        throttle_reset_account_requests=3,
        throttle_reset_address_requests=6,
    ) as app:
        victim = _email()
        await app.register(victim)

        async def reset(address: str, email: str) -> httpx.Response:
            client = await app.client(address)
            return await client.post(f"{API}/password-reset", json={"email": email})

        # one account, from many addresses: three links, then 429 (and no fourth email)
        statuses = [(await reset(f"10.3.0.{n + 1}", victim)).status_code for n in range(3)]
        assert statuses == [202] * 3
        refused = await reset("10.3.0.9", victim.upper())  # the same account however it is spelled
        assert_throttled(refused, window=window)
        assert refused.json()["detail"] == "Too many password reset requests; try again later."
        assert _resets_of(throttle_db, victim) == 3
        # an email with no account answers the same, throttled the same: it tells nobody who has one
        unknown = _email()
        assert [(await reset(f"10.3.1.{n + 1}", unknown)).status_code for n in range(4)] == [202] * 3 + [429]

        # one address, many accounts: six requests, then 429 for any account, even a fresh one
        sprayer = "203.0.113.90"
        sprayed = [(await reset(sprayer, _email())).status_code for _ in range(6)]
        assert sprayed == [202] * 6
        assert_throttled(await reset(sprayer, _email()), window=window)
        # the limit is the address's: another address still asks for a link for another account
        other = _email()
        await app.register(other)
        assert (await reset("203.0.113.91", other)).status_code == 202
        assert _resets_of(throttle_db, other) == 1

        if storage.startswith("async+redis"):
            keys = await redis_keys(storage, prefix)
            assert any("reset-account" in key for key in keys), keys
            assert any("reset-address" in key for key in keys), keys
            assert not any(victim in key or "203.0.113." in key for key in keys)  # digests only
