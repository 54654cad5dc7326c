"""The browser-facing headers every page gets: CSP without inline scripts, framing and sniffing off.

The web sends them on every response (``SecurityHeaders``); each service's API docs page and its
assets send the same ones (``platform/http/docs.py``), since they run on the origin of the cookie
sessions too.

``script-src 'self'``: the only scripts are files under ``/static`` (ours and htmx); no inline
script, no ``eval`` (htmx is configured with ``allowEval: false`` in the layout's meta tag). Images
may come from the object store when media redirects to presigned S3 URLs, so ``img-src`` takes the
origins in ``AGORA_WEB_IMAGE_ORIGINS`` as well.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def content_security_policy(image_origins: str = "") -> str:
    images = " ".join(["'self'", "data:", *image_origins.split()])
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {images}",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def security_headers(image_origins: str = "") -> dict[str, str]:
    return {
        "content-security-policy": content_security_policy(image_origins),
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "same-origin",
        "permissions-policy": "camera=(), microphone=(), geolocation=()",
    }


class SecurityHeaders:
    """Adds the headers to every response the web sends (pages, partials, static files, errors)."""

    def __init__(self, app: ASGIApp, *, image_origins: str = "") -> None:
        self.app = app
        self.headers = [(name.encode(), value.encode()) for name, value in security_headers(image_origins).items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                message["headers"] = [*message.get("headers", ()), *(h for h in self.headers if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)
