from agora.platform.cache import ResponseCache
from agora.platform.http.etag import EncodedJson


def test_entries_expire_after_the_ttl() -> None:
    now = [100.0]
    cache = ResponseCache(ttl=5, clock=lambda: now[0])
    cache.put("a", EncodedJson.of({"x": 1}))
    now[0] += 4.9
    assert cache.get("a") == EncodedJson.of({"x": 1})
    now[0] += 0.2
    assert cache.get("a") is None
    assert (cache.stats.hits, cache.stats.misses) == (1, 1)


def test_ttl_zero_turns_it_off() -> None:
    cache = ResponseCache(ttl=0)
    cache.put("a", EncodedJson.of({"x": 1}))
    assert cache.get("a") is None and len(cache) == 0


def test_bounded_size() -> None:
    cache = ResponseCache(ttl=60, maxsize=3)
    for key in "abcdef":
        cache.put(key, EncodedJson.of(key))
    assert len(cache) == 3


async def test_concurrent_misses_load_once() -> None:
    import asyncio

    cache = ResponseCache(ttl=60)
    loads = 0
    release = asyncio.Event()

    async def load() -> EncodedJson:
        nonlocal loads
        loads += 1
        await release.wait()
        return EncodedJson.of({"n": loads})

    waiters = [asyncio.create_task(cache.get_or_load("k", load)) for _ in range(20)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiters)
    assert loads == 1 and all(r == EncodedJson.of({"n": 1}) for r in results)
    assert cache.get("k") == EncodedJson.of({"n": 1})


async def test_a_failed_load_reaches_every_waiter_and_caches_nothing() -> None:
    import asyncio

    import pytest

    cache = ResponseCache(ttl=60)
    release = asyncio.Event()

    async def load() -> EncodedJson:
        await release.wait()
        raise LookupError("gone")

    waiters = [asyncio.create_task(cache.get_or_load("k", load)) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, LookupError) for r in results)
    assert cache.get("k") is None
    with pytest.raises(LookupError):
        await cache.get_or_load("k", load)
