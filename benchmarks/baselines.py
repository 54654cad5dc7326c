"""Baseline servers for ``benchmarks/catalog_by_id.py``: the same product JSON, from memory.

Two apps answer ``GET /api/catalog/products/{product_id}`` with a body fetched once from
``agora up`` (passed in a file), so the only difference from agora is the work agora does:

* :func:`fastapi_app`: a bare FastAPI endpoint with a pydantic response model. The model is
  derived from the body itself (nested objects become nested models, ISO timestamps become
  ``datetime`` when they serialize back unchanged), the product is validated into it once at
  start, and every request returns that instance, so FastAPI serializes it through the response
  model as an ordinary handler would.
* :func:`starlette_app`: a bare Starlette endpoint returning the pre-encoded bytes.
* :func:`fastapi_asyncpg_app`: a bare FastAPI endpoint with the same response model that reads
  the product row (joined to its category, active products only) from the PostgreSQL database
  the catalog uses (``--database-url``) on every request: an asyncpg pool
  (``--pool-size`` connections, opened at start), one prepared ``fetchrow`` per request, the
  row turned into the document as the catalog writes it. This is issue 16's "bare FastAPI +
  asyncpg endpoint reading the same row".

The memory ones look the id up in a dict; all answer 404 for an unknown id, like a by-id endpoint.

Run one (the benchmark does this, one subprocess per baseline)::

    .venv/bin/python benchmarks/baselines.py fastapi --port 8201 --body-file product.json
    .venv/bin/python benchmarks/baselines.py fastapi-asyncpg --port 8202 --body-file product.json \
        --database-url postgresql://postgres@127.0.0.1:5432/DB --pool-size 10

The server stack matches what ``agora up`` runs: uvicorn, uvloop, httptools, one worker,
no access log, no ``server`` header, bound to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import keyword
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

_DATETIME = TypeAdapter(datetime)


def _roundtrips_as_datetime(value: str) -> bool:
    try:
        return _DATETIME.dump_json(_DATETIME.validate_python(value)) == json.dumps(value).encode()
    except ValueError:
        return False


def _annotation(name: str, value: Any) -> Any:
    if isinstance(value, bool):
        return bool
    if isinstance(value, int):
        return int
    if isinstance(value, float):
        return float
    if isinstance(value, str):
        return datetime if len(value) >= 19 and value[4:5] == "-" and _roundtrips_as_datetime(value) else str
    if isinstance(value, dict):
        return model_for(name, value)
    if isinstance(value, list):
        return list[_annotation(f"{name}Item", value[0])] if value else list[Any]
    return Any  # null: keep whatever it is


def model_for(name: str, sample: dict[str, Any]) -> type[BaseModel]:
    """A pydantic model shaped like ``sample`` (keys that are not identifiers become aliases)."""
    fields: dict[str, Any] = {}
    for index, (key, value) in enumerate(sample.items()):
        annotation = _annotation(f"{name}{key.title().replace('_', '')}", value)
        safe = key.isidentifier() and not keyword.iskeyword(key) and not key.startswith(("_", "model_"))
        if safe:
            fields[key] = (annotation, ...)
        else:
            fields[f"field_{index}"] = (annotation, Field(alias=key))
    return create_model(name, __config__=ConfigDict(populate_by_name=True), **fields)


def _products(body: bytes) -> tuple[str, dict[str, Any]]:
    product = json.loads(body)
    if not isinstance(product, dict) or "id" not in product:
        raise ValueError("the body must be a JSON object with an 'id'")
    return str(product["id"]), product


def fastapi_app(body: bytes) -> Any:
    """Bare FastAPI: one route, a response model, the product held in memory."""
    from fastapi import FastAPI, HTTPException

    product_id, product = _products(body)
    product_model = model_for("Product", product)
    products = {product_id: product_model.model_validate(product)}
    app = FastAPI(title="baseline-fastapi")

    @app.get("/api/catalog/products/{product_id}", response_model=product_model)
    async def get_product(product_id: str) -> Any:
        found = products.get(product_id)
        if found is None:
            raise HTTPException(status_code=404, detail="not found")
        return found

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    return app


def starlette_app(body: bytes) -> Any:
    """Bare Starlette: one route returning the pre-encoded bytes."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    product_id, _ = _products(body)
    products = {product_id: body}

    async def get_product(request: Request) -> Response:
        found = products.get(request.path_params["product_id"])
        if found is None:
            return Response(b'{"detail":"not found"}', status_code=404, media_type="application/json")
        return Response(found, media_type="application/json")

    async def readyz(_: Request) -> Response:
        return Response(b'{"status":"ready"}', media_type="application/json")

    return Starlette(routes=[Route("/api/catalog/products/{product_id}", get_product), Route("/readyz", readyz)])


#: The catalog's product page, as one statement (agora.services.catalog.repository._VIEW).
PRODUCT_ROW_SQL = (
    "SELECT p.id, p.sku, p.name, p.description, p.price_amount, p.price_currency, p.tags_text, p.images,"
    " p.active, p.version, p.created_at, p.updated_at, c.id AS category_id, c.slug, c.name AS category_name"
    " FROM products p JOIN categories c ON c.id = p.category_id WHERE p.id = $1 AND p.active"
)


def _iso(value: datetime) -> str:
    # naive UTC in the database, written as the API writes it (ISO 8601 with Z)
    return value.isoformat() + "Z"


def product_of_row(row: Any) -> dict[str, Any]:
    images = row["images"]
    return {
        "id": row["id"],
        "sku": row["sku"],
        "name": row["name"],
        "description": row["description"],
        "price": {"amount": row["price_amount"], "currency": row["price_currency"]},
        "category": {"id": row["category_id"], "slug": row["slug"], "name": row["category_name"]},
        "tags": row["tags_text"].split() if row["tags_text"] else [],
        "images": json.loads(images) if isinstance(images, str) else list(images or ()),
        "active": row["active"],
        "version": row["version"],
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
    }


def fastapi_asyncpg_app(body: bytes, database_url: str, pool_size: int) -> Any:
    """Bare FastAPI with an asyncpg pool: the product row read from PostgreSQL on every request."""
    from contextlib import asynccontextmanager

    import asyncpg
    from fastapi import FastAPI, HTTPException

    _, product = _products(body)
    product_model = model_for("Product", product)
    pools: list[Any] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        pools.append(await asyncpg.create_pool(database_url, min_size=pool_size, max_size=pool_size))
        try:
            yield
        finally:
            await pools.pop().close()

    app = FastAPI(title="baseline-fastapi-asyncpg", lifespan=lifespan)

    @app.get("/api/catalog/products/{product_id}", response_model=product_model)
    async def get_product(product_id: str) -> Any:
        async with pools[0].acquire() as connection:
            row = await connection.fetchrow(PRODUCT_ROW_SQL, product_id)
        if row is None:
            raise HTTPException(status_code=404, detail="not found")
        return product_of_row(row)

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    return app


APPS = {"fastapi": fastapi_app, "starlette": starlette_app, "fastapi-asyncpg": fastapi_asyncpg_app}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("app", choices=sorted(APPS))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body-file", type=Path, required=True)
    parser.add_argument("--database-url", help="fastapi-asyncpg: the catalog's PostgreSQL database (postgresql://...)")
    parser.add_argument("--pool-size", type=int, default=10, help="fastapi-asyncpg: connections in the pool")
    args = parser.parse_args(argv)
    if args.app == "fastapi-asyncpg" and not args.database_url:
        parser.error("fastapi-asyncpg needs --database-url")

    import uvicorn

    body = args.body_file.read_bytes()
    if args.app == "fastapi-asyncpg":
        asgi = fastapi_asyncpg_app(
            body, args.database_url.replace("postgresql+asyncpg://", "postgresql://"), args.pool_size
        )
    else:
        asgi = APPS[args.app](body)
    # the same stack and switches as agora's own server (agora.cli._serve)
    uvicorn.run(
        asgi,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan="auto",
    )


if __name__ == "__main__":
    main()
