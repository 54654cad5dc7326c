"""Carts in Redis: one hash per cart, ``<prefix><owner>`` → {product_id: quantity}.

Every write refreshes the cart's TTL (7 days anonymous, 30 days signed in, from the settings),
so an abandoned cart disappears by itself. Writes whose bound check must be atomic with the
write (add, put, merge) are Lua scripts: Redis runs a script without interleaving any other
command, so two concurrent adds cannot both pass the quantity check. Remove and clear need no
check and are plain commands in a transaction pipeline.

Line order is the hash's field order, which for hashes this small (at most ``max_lines``
fields, well under Redis's listpack threshold of 128) is insertion order.

Failures are not caught: redis-py's ``ConnectionError``/``TimeoutError`` reach the chassis,
which answers 503 with ``Retry-After`` (nothing was changed) while the rest of the platform keeps
working. Commands are not retried by the client: a retried add after a timeout might apply twice.

A merge touches two keys; on a Redis Cluster they would need the same hash slot. Agora runs a
single Redis (or a primary with replicas), where that does not apply.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from agora.services.cart.store import Bound, LimitExceededError, Limits, Line

# returns {0, new quantity} | {1, current quantity} (quantity bound) | {2, lines} (line bound)
_ADD = """
local current = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if current == 0 then
  local lines = redis.call('HLEN', KEYS[1])
  if lines >= tonumber(ARGV[4]) then return {2, lines} end
end
local new = current + tonumber(ARGV[2])
if new > tonumber(ARGV[3]) then return {1, current} end
redis.call('HSET', KEYS[1], ARGV[1], new)
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {0, new}
"""

# returns {0, quantity} | {2, lines}
_PUT = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  local lines = redis.call('HLEN', KEYS[1])
  if lines >= tonumber(ARGV[3]) then return {2, lines} end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {0, tonumber(ARGV[2])}
"""

# KEYS[1] source, KEYS[2] target; returns the number of lines moved
_MERGE = """
local source = redis.call('HGETALL', KEYS[1])
local lines = redis.call('HLEN', KEYS[2])
local cap = tonumber(ARGV[1])
local moved = 0
for i = 1, #source, 2 do
  local current = tonumber(redis.call('HGET', KEYS[2], source[i]) or '0')
  if current > 0 or lines < tonumber(ARGV[2]) then
    if current == 0 then lines = lines + 1 end
    redis.call('HSET', KEYS[2], source[i], math.min(current + tonumber(source[i + 1]), cap))
    moved = moved + 1
  end
end
redis.call('DEL', KEYS[1])
if moved > 0 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
return moved
"""


def connect(url: str, *, timeout: float) -> Redis:
    """A client with bounded timeouts and no command retries (see the module docstring)."""
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


class RedisCartStore:
    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self._add = redis.register_script(_ADD)
        self._put = redis.register_script(_PUT)
        self._merge = redis.register_script(_MERGE)

    def key(self, owner: str) -> str:
        return f"{self.prefix}{owner}"

    async def lines(self, owner: str) -> list[Line]:
        fields = await self.redis.hgetall(self.key(owner))
        return [Line(str(product_id), int(quantity)) for product_id, quantity in fields.items()]

    async def add(self, owner: str, product_id: str, quantity: int, limits: Limits) -> int:
        args: list[str | int] = [product_id, quantity, limits.max_quantity, limits.max_lines, limits.ttl_seconds]
        return _outcome(await self._add(keys=[self.key(owner)], args=args))

    async def put(self, owner: str, product_id: str, quantity: int, limits: Limits) -> int:
        args: list[str | int] = [product_id, quantity, limits.max_lines, limits.ttl_seconds]
        return _outcome(await self._put(keys=[self.key(owner)], args=args))

    async def remove(self, owner: str, product_id: str, limits: Limits) -> bool:
        key = self.key(owner)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(key, product_id)
            pipe.expire(key, limits.ttl_seconds)
            removed, _ = await pipe.execute()
        return bool(removed)

    async def clear(self, owner: str) -> int:
        key = self.key(owner)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hlen(key)
            pipe.delete(key)
            count, _ = await pipe.execute()
        return int(count)

    async def merge(self, source: str, target: str, limits: Limits) -> int:
        args = [limits.max_quantity, limits.max_lines, limits.ttl_seconds]
        return int(await self._merge(keys=[self.key(source), self.key(target)], args=args))


def _outcome(result: Any) -> int:
    status, value = int(result[0]), int(result[1])
    if status == 1:
        raise LimitExceededError(Bound.quantity, value)
    if status == 2:
        raise LimitExceededError(Bound.lines, value)
    return value


__all__ = ["RedisCartStore", "connect"]
