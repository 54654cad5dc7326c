"""The ``CartStore`` contract on each store, below HTTP: atomic bounds under concurrency, merge
rules, and expiry (Redis TTLs; the SQL store's sweep)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import insert

from agora.platform.db.types import utcnow
from agora.platform.peers import runtime_in
from agora.platform.testing.statements import recorded_statements
from agora.services.cart.models import CartItem
from agora.services.cart.repository import SqlCartStore
from agora.services.cart.runtime import CartRuntime
from agora.services.cart.service import sweep_expired
from agora.services.cart.store import Bound, CartStore, LimitExceededError, Limits

from .conftest import CartApp

T = TypeVar("T")
LIMITS = Limits(max_quantity=99, max_lines=5, ttl_seconds=3600)

Run = Callable[[Callable[[CartStore], Awaitable[T]]], Awaitable[T]]


@pytest.fixture
def run(cart_app: CartApp) -> Run[Any]:
    """Runs one store operation as a request would: its own transaction, committed (SQL)."""
    context = cart_app.context

    async def call(operation: Callable[[CartStore], Awaitable[Any]]) -> Any:
        async with context.sessions() as session:
            result = await operation(runtime_in(context, CartRuntime).store(session))
            await session.commit()
            return result

    return call


def owner() -> str:
    return f"user:store-{uuid.uuid4().hex[:10]}"


def product() -> str:
    return str(uuid.uuid4())


async def test_concurrent_adds_never_pass_the_quantity_bound(run: Run[Any]) -> None:
    cart, item = owner(), product()

    async def add(store: CartStore) -> int:
        return await store.add(cart, item, 10, LIMITS)

    results = await asyncio.gather(*(run(add) for _ in range(20)), return_exceptions=True)
    accepted = [result for result in results if isinstance(result, int)]
    refused = [result for result in results if isinstance(result, LimitExceededError)]
    assert len(accepted) == 9 and len(refused) == 11, results
    assert all(error.bound is Bound.quantity for error in refused)
    assert sorted(accepted) == list(range(10, 100, 10))
    lines = await run(lambda store: store.lines(cart))
    assert [(line.product_id, line.quantity) for line in lines] == [(item, 90)]


async def test_concurrent_first_adds_of_one_product_make_one_line(run: Run[Any]) -> None:
    cart, item = owner(), product()
    results = await asyncio.gather(*(run(lambda store: store.add(cart, item, 1, LIMITS)) for _ in range(8)))
    assert sorted(results) == list(range(1, 9))
    lines = await run(lambda store: store.lines(cart))
    assert [(line.product_id, line.quantity) for line in lines] == [(item, 8)]


async def test_line_bound(run: Run[Any]) -> None:
    cart = owner()
    items = [product() for _ in range(LIMITS.max_lines + 1)]
    for item in items[:-1]:
        await run(lambda store, item=item: store.add(cart, item, 1, LIMITS))
    for write in (
        lambda store: store.add(cart, items[-1], 1, LIMITS),
        lambda store: store.put(cart, items[-1], 1, LIMITS),
    ):
        with pytest.raises(LimitExceededError) as refused:
            await run(write)
        assert refused.value.bound is Bound.lines and refused.value.current == LIMITS.max_lines
    assert await run(lambda store: store.put(cart, items[0], 7, LIMITS)) == 7
    assert len(await run(lambda store: store.lines(cart))) == LIMITS.max_lines


async def test_merge_adds_caps_and_drops_what_does_not_fit(run: Run[Any]) -> None:
    source, target = f"anon:{uuid.uuid4()}", owner()
    shared, kept = product(), [product() for _ in range(LIMITS.max_lines - 1)]
    extra = [product(), product()]
    await run(lambda store: store.add(target, shared, 60, LIMITS))
    for item in kept[:-1]:
        await run(lambda store, item=item: store.add(target, item, 1, LIMITS))
    await run(lambda store: store.add(source, shared, 50, LIMITS))
    for item in [kept[-1], *extra]:
        await run(lambda store, item=item: store.add(source, item, 2, LIMITS))

    moved = await run(lambda store: store.merge(source, target, LIMITS))
    assert moved == 2, "the shared line and one new line fit; the other new lines do not"
    merged = {line.product_id: line.quantity for line in await run(lambda store: store.lines(target))}
    assert len(merged) == LIMITS.max_lines
    assert merged[shared] == 99 and merged[kept[-1]] == 2
    assert await run(lambda store: store.lines(source)) == []
    assert await run(lambda store: store.merge(source, target, LIMITS)) == 0


async def test_carts_expire_after_their_ttl(cart_app: CartApp, run: Run[Any]) -> None:
    """Redis: every write sets the key's TTL (30 days signed in, 7 anonymous). SQL: the sweep."""
    context = cart_app.context
    if cart_app.redis is not None:
        user, anonymous = owner(), f"anon:{uuid.uuid4()}"
        await run(lambda store: store.add(user, product(), 1, Limits(99, 50, 30 * 86400)))
        await run(lambda store: store.add(anonymous, product(), 1, Limits(99, 50, 7 * 86400)))
        assert 30 * 86400 - 60 < await cart_app.redis.ttl(f"{cart_app.prefix}{user}") <= 30 * 86400
        assert 7 * 86400 - 60 < await cart_app.redis.ttl(f"{cart_app.prefix}{anonymous}") <= 7 * 86400
        assert await sweep_expired(context) == 0, "Redis expires keys by itself"
        return
    settings = context.settings
    now = utcnow()
    stale_anonymous, fresh_anonymous = f"anon:{uuid.uuid4()}", f"anon:{uuid.uuid4()}"
    stale_user, quiet_user = owner(), owner()
    day = timedelta(days=1)
    rows = [
        (stale_anonymous, now - timedelta(seconds=settings.anonymous_ttl_seconds) - day),
        (fresh_anonymous, now - day),
        (stale_user, now - timedelta(seconds=settings.user_ttl_seconds) - day),
        # older than an anonymous cart may be, younger than a user's: kept
        (quiet_user, now - timedelta(seconds=settings.anonymous_ttl_seconds) - day),
    ]
    async with context.sessions() as session:
        for cart, when in rows:
            values = {"owner": cart, "product_id": product(), "quantity": 1, "added_at": when, "updated_at": when}
            await session.execute(insert(CartItem).values(**values))
        await session.commit()
    assert await sweep_expired(context) >= 2
    carts = await cart_app.snapshot()
    assert stale_anonymous not in carts and stale_user not in carts
    assert fresh_anonymous in carts and quiet_user in carts
    async with context.sessions() as session:
        assert await SqlCartStore(session).expired_owners("anon:", now - day) == []


async def test_an_add_is_two_statements_on_sql(cart_app: CartApp) -> None:
    """A bound that can fail: an add reads the cart once and upserts once (MariaDB, whose
    upsert returns nothing, keeps its savepoint path). On SQLite only the upsert waits for the
    write gate, so every statement more is a longer queue for every writer."""
    if cart_app.redis is not None:
        return  # one Lua script per add; no SQL
    context = cart_app.context
    cart, item = owner(), product()
    async with context.sessions() as session:
        store = SqlCartStore(session)
        mariadb = session.get_bind().dialect.name in ("mysql", "mariadb")
        async with recorded_statements(session) as new_line:
            assert await store.add(cart, item, 2, LIMITS) == 2
        async with recorded_statements(session) as existing_line:
            assert await store.add(cart, item, 3, LIMITS) == 5
        async with recorded_statements(session) as refused:
            with pytest.raises(LimitExceededError):
                await store.add(cart, item, 95, LIMITS)
        await session.commit()
    if mariadb:
        assert len(new_line) <= 5 and len(existing_line) <= 4, (new_line, existing_line)
    else:
        assert len(new_line) == 2 and len(existing_line) == 2, (new_line, existing_line)
        assert "RETURNING" in new_line[-1].upper()
        assert len(refused) == 1, refused  # refused on the read: nothing written
