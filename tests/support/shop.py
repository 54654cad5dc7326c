"""What the end-to-end tests do as a shopper or an admin over HTTP, whatever runs the shop
(`agora up --distributed`, the compose stack)."""

from __future__ import annotations

import io
import uuid

import httpx
from PIL import Image

SHOPPER_PASSWORD = "correct horse battery 7"
GOOD_CARD = {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2035, "cvc": "123"}
ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
}


def register_shopper(client: httpx.Client) -> tuple[str, dict[str, str]]:
    """A new account, logged in: its email and the Authorization header to use."""
    email = f"shopper-{uuid.uuid4().hex[:10]}@example.com"
    registered = client.post(
        "/api/identity/register", json={"email": email, "password": SHOPPER_PASSWORD, "display_name": "Shopper"}
    )
    assert registered.status_code == 201, registered.text
    login = client.post("/api/identity/login", json={"email": email, "password": SHOPPER_PASSWORD})
    assert login.status_code == 200, login.text
    return email, {"Authorization": f"Bearer {login.json()['access_token']}"}


def png(width: int, height: int) -> bytes:
    """A two-colour PNG (its thumbnails are not blank)."""
    image = Image.new("RGB", (width, height), (20, 120, 200))
    image.paste((250, 200, 30), (width // 4, height // 4, width // 2, height // 2))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
