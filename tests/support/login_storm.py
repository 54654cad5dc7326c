"""Shoppers logging in over and over, in a process of their own (run by tests/e2e/test_load.py).

``python login_storm.py BASE_URL PASSWORD EMAIL...``, then on stdin: ``start`` sets every
shopper logging in, in a loop, and answers ``on`` once each has logged in once (the storm is in
full swing); ``stop`` lets each finish its login and answers ``off <logins>``. End of input ends
it. A process of its own, so the storm's client work does not slow the test's reads on their side.
"""

from __future__ import annotations

import asyncio
import sys

import httpx


async def shopper(
    client: httpx.AsyncClient, email: str, password: str, stop: asyncio.Event, first: asyncio.Event
) -> int:
    logins = 0
    while not stop.is_set():
        answer = await client.post("/api/identity/login", json={"email": email, "password": password})
        if answer.status_code != 200:
            raise SystemExit(f"login answered {answer.status_code}: {answer.text[:200]}")
        logins += 1
        first.set()
    return logins


async def main(base: str, password: str, emails: list[str]) -> None:
    limits = httpx.Limits(max_connections=len(emails))
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        while command := (await asyncio.to_thread(sys.stdin.readline)).strip():
            if command != "start":
                raise SystemExit(f"unknown command {command!r}")
            stop, firsts = asyncio.Event(), [asyncio.Event() for _ in emails]
            storm = [
                asyncio.create_task(shopper(client, e, password, stop, f)) for e, f in zip(emails, firsts, strict=True)
            ]
            await asyncio.gather(*(first.wait() for first in firsts))
            print("on", flush=True)
            if (await asyncio.to_thread(sys.stdin.readline)).strip() != "stop":
                raise SystemExit("expected stop")
            stop.set()
            print(f"off {sum(await asyncio.gather(*storm))}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
