"""The OpenAPI documents declare what the chassis answers (platform/http/openapi.py), and 405s name
every method of their path. The full check against behaviour is tests/e2e/test_api_conformance.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from agora.platform.http.app import create_service_app
from agora.platform.http.problems import PROBLEM_JSON
from agora.platform.testing.apps import platform_for_tests
from agora.services import catalog, identity, payments


@pytest.fixture
async def client(tmp_path: Path) -> httpx.AsyncClient:
    # documents and routing need no lifespan state: the bare apps are enough
    apps = {
        spec.name: create_service_app(spec, platform_for_tests(tmp_path))
        for spec in (catalog.spec, identity.spec, payments.spec)
    }

    async def dispatch(scope: Any, receive: Any, send: Any) -> None:
        await apps[scope["path"].split("/")[2]](scope, receive, send)

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=dispatch), base_url="http://agora.test")


async def document(client: httpx.AsyncClient, service: str) -> dict[str, Any]:
    response = await client.get(f"/api/{service}/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_guarded_routes_declare_401_403_and_their_security(client: httpx.AsyncClient) -> None:
    doc = await document(client, "catalog")
    create = doc["paths"]["/api/catalog/products"]["post"]  # Admin
    assert {"401", "403"} <= set(create["responses"])
    assert create["security"] == [{"bearer": []}, {"session": []}]
    assert create["responses"]["401"]["headers"]["WWW-Authenticate"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    # anonymous reads take an optional token: a bad one is a 401, no security is required
    browse = doc["paths"]["/api/catalog/products"]["get"]
    assert "401" in browse["responses"] and "security" not in browse
    me = (await document(client, "identity"))["paths"]["/api/identity/me"]
    assert "401" in me["get"]["responses"] and "403" not in me["get"]["responses"]
    assert "403" in me["patch"]["responses"]  # a cookie session's change without its CSRF token


async def test_every_error_is_problem_json_and_bodies_declare_400_and_415(client: httpx.AsyncClient) -> None:
    doc = await document(client, "identity")
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == [PROBLEM_JSON], (method, path, status)
    register = doc["paths"]["/api/identity/register"]["post"]["responses"]
    assert {"400", "413", "415", "422"} <= set(register)
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert doc["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status"]
    cursor_list = (await document(client, "catalog"))["paths"]["/api/catalog/products"]["get"]
    # a modified cursor is a 422 naming query.cursor (declared with the validation errors), never a 400
    assert "422" in cursor_list["responses"] and "400" not in cursor_list["responses"]
    assert all("x-agora-statuses" not in p["schema"] for p in cursor_list["parameters"])


async def test_malformed_json_answers_the_declared_400_as_problem_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/identity/register", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_JSON


async def test_405_allows_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    response = await client.request("OPTIONS", "/api/catalog/products/any-id")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, HEAD, PATCH"
    assert response.headers["content-type"] == PROBLEM_JSON
    response = await client.put("/api/identity/me")
    assert response.headers["allow"] == "GET, HEAD, PATCH"


def test_schemas_state_what_the_validators_refuse() -> None:
    """A document looser than the validators calls valid what the service refuses (schemathesis's
    "schema-valid request rejected"): currencies and countries are enums, text rules patterns."""
    from agora.contracts.catalog import SUPPORTED_CURRENCIES
    from agora.services.catalog import schemas as catalog_schemas
    from agora.services.identity import schemas as identity_schemas
    from agora.services.shipping import schemas as shipping_schemas

    price = catalog_schemas.MoneyIn.model_json_schema()["properties"]["currency"]
    assert price["enum"] == sorted(SUPPORTED_CURRENCIES) and len(price["enum"]) == 12
    country = shipping_schemas.Address.model_json_schema()["properties"]["country"]
    assert "US" in country["enum"] and "ZZ" not in country["enum"]
    register = identity_schemas.RegisterIn.model_json_schema()["properties"]
    assert register["password"]["minLength"] == 8 and "password" in register["password"]["not"]["enum"]
    assert "pattern" in register["email"]
    address = identity_schemas.AddressIn.model_json_schema()["properties"]
    assert "\\x00-\\x1f" in address["city"]["pattern"]  # no control characters
    update = identity_schemas.AddressUpdate.model_json_schema()["properties"]
    assert "anyOf" not in update["country"]  # may be left out, not sent as null


def test_routes_of_an_included_router_are_completed_too(tmp_path: Path) -> None:
    # support's REST routes are an APIRouter included with include_router (matched lazily)
    from agora.services import support

    document = create_service_app(support.spec, platform_for_tests(tmp_path)).openapi()
    open_conversation = document["paths"]["/api/support/conversations"]["post"]
    assert {"400", "401", "413", "415", "422"} <= set(open_conversation["responses"])
    assert list(open_conversation["responses"]["422"]["content"]) == [PROBLEM_JSON]
    assert open_conversation["security"] == [{"bearer": []}, {"session": []}]


async def test_what_schemathesis_found_undocumented_is_documented(client: httpx.AsyncClient) -> None:
    """Regressions of the conformance run (tests/e2e/test_api_conformance.py), one per finding."""
    paths = (await document(client, "catalog"))["paths"]
    # a product read checks a token it is sent by hand (its cache path), so it declares the 401
    for path in ("/api/catalog/products/{product_id}", "/api/catalog/products/by-sku/{sku}"):
        assert "401" in paths[path]["get"]["responses"], path
    # a password reset request answers 202 with no body, and 429 past its throttle
    reset = (await document(client, "identity"))["paths"]["/api/identity/password-reset"]["post"]["responses"]
    assert "content" not in reset["202"]
    assert reset["429"]["headers"]["Retry-After"]
    # a charge's currency is one of the 12, a card's month 1-12 and its CVC digits
    charge = (await document(client, "payments"))["components"]["schemas"]
    assert len(charge["MoneyIn"]["properties"]["currency"]["enum"]) == 12
    assert charge["CardIn"]["properties"]["exp_month"]["maximum"] == 12
    assert charge["CardIn"]["properties"]["cvc"]["pattern"] == "^[0-9]{3,4}$"
