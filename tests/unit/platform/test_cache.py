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
