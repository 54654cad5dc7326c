"""Jinja2 for the pages: autoescaping everywhere, a few filters; the web's runtime holds the one
environment (:func:`environment`, built at start-up) and ``Visit.render`` draws every page with it.

Escaping is on for every template (``select_autoescape`` would leave ``.txt`` alone; every file
here is HTML), so a product called ``<script>alert(1)</script>`` is drawn as text. Nothing in the
templates marks data ``|safe``: the only markup is the templates' own.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import datetime
from importlib import resources
from pathlib import Path

import jinja2

from agora.contracts.catalog import format_money
from agora.contracts.media import image_url
from agora.contracts.orders import order_number
from agora.services.web.backend import UNAVAILABLE
from agora.services.web.session import CSRF_FIELD, SUPPORTED_CURRENCIES

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
#: htmx comes from a PyPI package that ships it (django-js-lib-htmx; nothing of Django is imported)
HTMX = Path(str(resources.files("js_lib_htmx"))) / "static" / "htmx"


def money(amount: int | None, currency: str) -> str:
    """Minor units as a price: ``money(129999, "USD")`` → ``$1,299.99``."""
    return "" if amount is None else format_money(amount, currency)


def when(value: str | None) -> str:
    """An ISO timestamp as ``21 Nov 2026, 19:04`` (UTC)."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.strftime("%d %b %Y, %H:%M")


@functools.cache
def _fingerprint(path: str) -> str:
    for base in (STATIC, HTMX.parent):
        candidate = base / path
        if candidate.is_file():
            return hashlib.sha256(candidate.read_bytes()).hexdigest()[:10]
    return "0"


def static_url(path: str) -> str:
    """``/static/<path>?v=<hash>``: the URL changes with the file, so it can be cached for long."""
    return f"/static/{path}?v={_fingerprint(path)}"


def _unavailable(value: object) -> bool:
    return value is UNAVAILABLE


def environment() -> jinja2.Environment:
    """The pages' environment: templates are loaded (and compiled) on first use, then kept."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        enable_async=False,
    )
    env.filters["money"] = money
    env.filters["when"] = when
    env.filters["order_number"] = order_number
    env.filters["image"] = image_url
    env.tests["unavailable"] = _unavailable
    env.globals["static"] = static_url
    env.globals["currencies"] = SUPPORTED_CURRENCIES
    env.globals["csrf_field"] = CSRF_FIELD
    return env
