"""Store errors become a 503 the client may retry only when the store is really unavailable."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from agora.platform.http.problems import install_problem_handlers


class DriverError(Exception):
    def __init__(self, sqlstate: str | None = None) -> None:
        super().__init__("driver says no")
        self.sqlstate = sqlstate


def app_raising(exc: Exception) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise exc

    return app


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (DBAPIError("SELECT 1", {}, DriverError("53300")), 503),  # too many clients (asyncpg, plain DBAPIError)
        (DBAPIError("SELECT 1", {}, DriverError("57P03")), 503),  # the server is starting up
        (OperationalError("SELECT 1", {}, DriverError()), 503),  # also MariaDB's deadlock victim (1213)
        (DBAPIError("UPDATE stock", {}, DriverError("40P01")), 503),  # PostgreSQL's deadlock victim
        (DBAPIError("UPDATE stock", {}, DriverError("40001")), 503),  # a serialization failure
        (DBAPIError("SELECT 1", {}, DriverError("42P01")), 500),  # a missing table is our bug, not an outage
        (IntegrityError("INSERT", {}, DriverError("23505")), 500),
        (PoolTimeoutError("QueuePool limit of size 10 overflow 0 reached"), 503),  # every connection busy
    ],
)
async def test_database_errors(exc: Exception, status: int) -> None:
    transport = httpx.ASGITransport(app=app_raising(exc), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/boom")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert ("retry-after" in response.headers) == (status == 503)
    assert "SELECT" not in response.text and "driver says no" not in response.text and "QueuePool" not in response.text
