"""Each service's API docs page (Swagger UI), served from this origin under the pages' CSP.

FastAPI's own docs page loads Swagger UI from a public CDN and starts it with an inline script:
offline it breaks, and it runs third-party script on the origin of the cookie sessions. Here the
Swagger UI files come from the ``fastapi-offline`` package (which ships them; nothing is fetched
at run time), the page starts it with a script file of ours (``static/swagger-init.js``, which
reads the document's URL from a ``data-`` attribute), and the page and its files carry the same
security headers as the web's pages (``script-src 'self'``, no inline script, no framing).

ReDoc is not offered: its styles are injected as ``<style>`` elements at run time, which a CSP
without ``'unsafe-inline'`` refuses.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from html import escape
from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from agora.platform.http.problems import problem_response
from agora.platform.http.security import security_headers

_OUR_STATIC = Path(__file__).parent / "static"
#: the files a docs page may load, and where each lives; nothing else is served under ``assets``
_ASSETS = {
    "swagger-ui-bundle.js": "vendor",
    "swagger-ui.css": "vendor",
    "favicon.png": "vendor",
    "swagger-init.js": "ours",
}
#: assets are fetched again after an hour at most (their ETag makes that a 304)
_ASSET_CACHE = "public, max-age=3600"


@cache
def _vendor_static() -> Path:
    # found without importing the package: its __init__ builds FastAPI apps we do not use
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or spec.origin is None:
        raise RuntimeError("fastapi-offline is not installed: it ships the Swagger UI files")
    return Path(spec.origin).parent / "static"


def _asset_path(name: str) -> Path | None:
    origin = _ASSETS.get(name)
    if origin is None:
        return None
    return (_OUR_STATIC if origin == "ours" else _vendor_static()) / name


def docs_page(*, title: str, openapi_url: str, assets_url: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · API docs</title>
<link rel="icon" type="image/png" href="{assets_url}/favicon.png">
<link rel="stylesheet" href="{assets_url}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>
<script src="{assets_url}/swagger-ui-bundle.js"></script>
<script src="{assets_url}/swagger-init.js"></script>
</body>
</html>
"""


def add_docs_routes(app: FastAPI, *, docs_url: str, openapi_url: str, title: str) -> None:
    """``GET docs_url`` (the page) and ``GET docs_url/assets/<file>`` (Swagger UI and our starter)."""
    assets_url = f"{docs_url}/assets"
    page = docs_page(title=title, openapi_url=openapi_url, assets_url=assets_url)
    headers = security_headers()

    async def docs(_: Request) -> Response:
        return HTMLResponse(page, headers={**headers, "cache-control": "no-cache"})

    async def asset(request: Request) -> Response:
        path = _asset_path(request.path_params["name"])
        if path is None:
            return problem_response(404, detail="No such docs asset.", instance=request.url.path, headers=headers)
        return FileResponse(path, headers={**headers, "cache-control": _ASSET_CACHE})

    app.router.routes.append(Route(docs_url, docs, methods=["GET"], include_in_schema=False))
    app.router.routes.append(Route(f"{assets_url}/{{name}}", asset, methods=["GET"], include_in_schema=False))
