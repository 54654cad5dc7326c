"""Every port's operations through each of its adapters, against the real running services.

One embedded stack (identity, catalog, inventory, cart, currency, shipping, payments, orders on
their own databases) serves both adapters: ``http`` is the HTTP adapter over the orders (or the
cart's) service client, through the callee's whole HTTP chassis; ``direct`` is the callee's
direct adapter (its application layer, its own sessions). Each test states what the contract
promises, answers and errors alike, and holds for both; a few also check that both adapters
answer the very same thing.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from PIL import Image

from agora.contracts import http
from agora.contracts.catalog import Money, Product
from agora.contracts.inventory import ReservationItem, ReservationRequest
from agora.contracts.media import ImageLookup
from agora.contracts.payments import REASON_CARD_DECLINED, CardDetails, ChargeRequest
from agora.contracts.ports import (
    CartPort,
    CatalogPort,
    CurrencyPort,
    IdentityPort,
    InventoryPort,
    MediaPort,
    PaymentsPort,
    ShippingPort,
)
from agora.contracts.shipping import Destination, ParcelItem, QuoteRequest, ShipmentRequest
from agora.platform.errors import (
    ConflictError,
    NotFoundError,
    PaymentRequiredError,
    ServiceError,
    UnauthorizedError,
    UnprocessableError,
)
from agora.platform.peers import Caller, Peer, ServiceClientSource
from agora.platform.runtime import EmbeddedApp
from agora.platform.testing.apps import platform_for_tests, running_services
from agora.platform.testing.databases import service_databases
from tests.support.stack import ADDRESS, DECLINED_CARD, GOOD_CARD, PASSWORD, Stack, running_stack

P = TypeVar("P")
ADAPTERS = ("http", "direct")
HttpFactory = Callable[[ServiceClientSource, Caller], Any]


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def database_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
async def stack(database_backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(database_backend, tmp_path_factory.mktemp("ports"), stocked=3) as running:
        yield running


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def port(
    stack: Stack | EmbeddedApp,
    adapter: str,
    target: str,
    factory: HttpFactory,
    *,
    caller: str = "orders",
    as_service: bool = True,
) -> Any:
    """``target``'s port as ``caller`` calls it, through the adapter under test (over HTTP with
    the service client of ``caller``, or of identity when ``caller`` does not run here)."""
    embedded = stack.embedded if isinstance(stack, Stack) else stack
    who = Caller(caller, as_service=as_service)
    if adapter == "http":
        return factory((embedded.contexts.get(caller) or embedded.contexts["identity"]).clients, who)
    spec = embedded.specs[target]
    assert spec.port is not None, f"{target} offers no direct adapter"
    return spec.port(Peer(embedded.peers, target, who))


async def _refused(call: Any, error: type[ServiceError]) -> ServiceError:
    with pytest.raises(error) as raised:
        await call
    return raised.value


# -- catalog -----------------------------------------------------------------------------------


async def test_catalog_product_is_the_contract_model(stack: Stack, adapter: str) -> None:
    catalog: CatalogPort = port(stack, adapter, "catalog", http.HttpCatalog)
    listed = (await stack.products(1))[0]
    product = await catalog.product(listed["id"])
    assert isinstance(product, Product) and product.id == listed["id"]
    assert (product.sku, product.name, product.price.amount, product.active) == (
        listed["sku"],
        listed["name"],
        listed["price"]["amount"],
        True,
    )


async def test_catalog_unknown_product_is_not_found(stack: Stack, adapter: str) -> None:
    catalog: CatalogPort = port(stack, adapter, "catalog", http.HttpCatalog, caller="cart", as_service=False)
    await _refused(catalog.product(str(uuid.uuid4())), NotFoundError)


async def test_catalog_answers_the_same_product_through_both_adapters(stack: Stack) -> None:
    listed = (await stack.products(2))[1]
    answers = [
        await port(stack, adapter, "catalog", http.HttpCatalog, caller="cart", as_service=False).product(listed["id"])
        for adapter in ADAPTERS
    ]
    assert answers[0] == answers[1]


# -- currency ----------------------------------------------------------------------------------


async def test_currency_converts_half_to_even_into_the_target(stack: Stack, adapter: str) -> None:
    currency: CurrencyPort = port(stack, adapter, "currency", http.HttpCurrency)
    conversion = await currency.convert(Money(amount=1000, currency="USD"), "EUR")
    assert conversion.from_ == Money(amount=1000, currency="USD")
    assert conversion.to.currency == "EUR" and conversion.to.amount > 0


async def test_currency_answers_the_same_conversion_through_both_adapters(stack: Stack) -> None:
    amount = Money(amount=12345, currency="JPY")
    answers = [await port(stack, adapter, "currency", http.HttpCurrency).convert(amount, "GBP") for adapter in ADAPTERS]
    assert answers[0] == answers[1]


async def test_currency_unsupported_target_names_the_field(stack: Stack, adapter: str) -> None:
    currency: CurrencyPort = port(stack, adapter, "currency", http.HttpCurrency)
    error = await _refused(currency.convert(Money(amount=1000, currency="USD"), "XXX"), UnprocessableError)
    assert error.field == "query.to"


# -- shipping ----------------------------------------------------------------------------------

DESTINATION = Destination(**ADDRESS)


async def test_shipping_quotes_in_usd(stack: Stack, adapter: str) -> None:
    shipping: ShippingPort = port(stack, adapter, "shipping", http.HttpShipping)
    request = QuoteRequest(address=DESTINATION, items=[ParcelItem(sku="SKU-1", quantity=2)], currency="EUR")
    quote = await shipping.quote(request)
    assert quote.cost.currency == "USD" and quote.cost.amount > 0
    assert quote.zone == "europe" and quote.item_count == 2


async def test_shipping_refuses_a_bad_address_naming_the_field(stack: Stack, adapter: str) -> None:
    shipping: ShippingPort = port(stack, adapter, "shipping", http.HttpShipping)
    where = Destination(country="de", postal_code="10117")
    error = await _refused(
        shipping.quote(QuoteRequest(address=where, items=[ParcelItem(sku="A", quantity=1)])), UnprocessableError
    )
    assert error.field == "body.address.country"


async def test_shipping_ships_an_order_once(stack: Stack, adapter: str) -> None:
    shipping: ShippingPort = port(stack, adapter, "shipping", http.HttpShipping)
    request = ShipmentRequest(order_id=uuid.uuid4().hex, address=DESTINATION, items=[ParcelItem(sku="A-1", quantity=1)])
    shipment = await shipping.ship(request)
    assert (shipment.order_id, shipment.status) == (request.order_id, "created")
    again = await shipping.ship(request)
    assert again.id == shipment.id and again.tracking_id == shipment.tracking_id


async def test_shipping_ship_needs_a_service(stack: Stack, adapter: str) -> None:
    shipping: ShippingPort = port(stack, adapter, "shipping", http.HttpShipping, as_service=False)
    request = ShipmentRequest(order_id=uuid.uuid4().hex, address=DESTINATION, items=[ParcelItem(sku="A-1", quantity=1)])
    await _refused(shipping.ship(request), UnauthorizedError)


# -- inventory ---------------------------------------------------------------------------------


async def _sku(stack: Stack, index: int = 0) -> str:
    return str((await stack.products(index + 1))[index]["sku"])


def _reservation(sku: str, quantity: int = 1) -> ReservationRequest:
    return ReservationRequest(
        reservation_id=uuid.uuid4().hex, items=[ReservationItem(sku=sku, quantity=quantity)], ttl_seconds=60
    )


async def test_inventory_reserve_commit_release(stack: Stack, adapter: str) -> None:
    inventory: InventoryPort = port(stack, adapter, "inventory", http.HttpInventory)
    sku = await _sku(stack)
    before = (await inventory.stock(sku)).available
    request = _reservation(sku)
    held = await inventory.reserve(request)
    assert (held.id, held.status, [(i.sku, i.quantity) for i in held.items]) == (
        request.reservation_id,
        "held",
        [(sku, 1)],
    )
    assert (await inventory.reserve(request)).id == held.id  # the same id again: the same reservation
    assert (await inventory.stock(sku)).available == before - 1
    assert (await inventory.commit(request.reservation_id)).status == "committed"
    assert (await inventory.release(request.reservation_id)).status == "released"  # restocked
    assert (await inventory.stock(sku)).available == before


async def test_inventory_out_of_stock_names_the_line_sku_and_available(stack: Stack, adapter: str) -> None:
    inventory: InventoryPort = port(stack, adapter, "inventory", http.HttpInventory)
    sku = await _sku(stack, 1)
    available = (await inventory.stock(sku)).available
    error = await _refused(inventory.reserve(_reservation(sku, available + 1)), ConflictError)
    assert error.field is not None and "items" in error.field and "0" in error.field
    assert (error.extra["sku"], error.extra["available"]) == (sku, available)


async def test_inventory_unknown_reservation_is_not_found(stack: Stack, adapter: str) -> None:
    inventory: InventoryPort = port(stack, adapter, "inventory", http.HttpInventory)
    await _refused(inventory.release(uuid.uuid4().hex), NotFoundError)
    await _refused(inventory.commit(uuid.uuid4().hex), NotFoundError)


async def test_inventory_released_reservation_cannot_be_committed(stack: Stack, adapter: str) -> None:
    inventory: InventoryPort = port(stack, adapter, "inventory", http.HttpInventory)
    request = _reservation(await _sku(stack))
    await inventory.reserve(request)
    await inventory.release(request.reservation_id)
    await _refused(inventory.commit(request.reservation_id), ConflictError)


async def test_inventory_reservations_need_a_service(stack: Stack, adapter: str) -> None:
    inventory: InventoryPort = port(stack, adapter, "inventory", http.HttpInventory, as_service=False)
    await _refused(inventory.reserve(_reservation(await _sku(stack))), UnauthorizedError)
    assert (await inventory.stock(await _sku(stack))).sku  # stock is public


# -- payments ----------------------------------------------------------------------------------


def _charge(card: dict[str, Any], amount: int = 1999) -> ChargeRequest:
    return ChargeRequest(
        order_id=uuid.uuid4().hex,
        user_id=str(uuid.uuid4()),
        amount=Money(amount=amount, currency="EUR"),
        card=CardDetails(**card),
    )


async def test_payments_charge_is_idempotent_per_key(stack: Stack, adapter: str) -> None:
    payments: PaymentsPort = port(stack, adapter, "payments", http.HttpPayments)
    request = _charge(GOOD_CARD)
    charge = await payments.charge(request, idempotency_key=f"order-{request.order_id}")
    assert (charge.status, charge.amount, charge.card.last4) == ("captured", request.amount, "4242")
    again = await payments.charge(request, idempotency_key=f"order-{request.order_id}")
    assert again == charge
    page = await payments.charges(request.order_id)
    assert [item.id for item in page.items] == [charge.id]
    refunded = await payments.refund(charge.id)
    assert (refunded.id, refunded.status) == (charge.id, "refunded")
    assert (await payments.refund(charge.id)).status == "refunded"  # idempotent


async def test_payments_declined_card_is_payment_required_and_replayed(stack: Stack, adapter: str) -> None:
    payments: PaymentsPort = port(stack, adapter, "payments", http.HttpPayments)
    request = _charge(DECLINED_CARD)
    key = f"order-{request.order_id}"
    first = await _refused(payments.charge(request, idempotency_key=key), PaymentRequiredError)
    assert first.extra["reason"] == REASON_CARD_DECLINED and first.extra["charge_id"]
    replayed = await _refused(payments.charge(request, idempotency_key=key), PaymentRequiredError)
    assert replayed.extra["charge_id"] == first.extra["charge_id"]


async def test_payments_key_reused_with_another_body_is_refused(stack: Stack, adapter: str) -> None:
    payments: PaymentsPort = port(stack, adapter, "payments", http.HttpPayments)
    request = _charge(GOOD_CARD)
    key = f"order-{request.order_id}"
    await payments.charge(request, idempotency_key=key)
    other = request.model_copy(update={"amount": Money(amount=1, currency="EUR")})
    await _refused(payments.charge(other, idempotency_key=key), UnprocessableError)


async def test_payments_invalid_card_names_the_field(stack: Stack, adapter: str) -> None:
    payments: PaymentsPort = port(stack, adapter, "payments", http.HttpPayments)
    request = _charge({**GOOD_CARD, "number": "4242 4242 4242 4241"})  # Luhn fails
    error = await _refused(payments.charge(request, idempotency_key=f"order-{request.order_id}"), UnprocessableError)
    assert error.field == "body.card.number"


async def test_payments_need_a_service(stack: Stack, adapter: str) -> None:
    payments: PaymentsPort = port(stack, adapter, "payments", http.HttpPayments, as_service=False)
    await _refused(payments.charges(uuid.uuid4().hex), UnauthorizedError)


# -- cart --------------------------------------------------------------------------------------


async def test_cart_user_cart_and_clear(stack: Stack, adapter: str) -> None:
    cart: CartPort = port(stack, adapter, "cart", http.HttpCart)
    user = await stack.register()
    product = (await stack.products(1))[0]
    added = await stack.add_to_cart(user, product["id"], 2)
    assert added.status_code == 200, added.text
    held = await cart.user_cart(user.id)
    assert held.id == f"user:{user.id}" and held.pricing == "ok"
    assert [(line.product_id, line.sku, line.quantity) for line in held.items] == [(product["id"], product["sku"], 2)]
    assert held.subtotal == Money(amount=2 * product["price"]["amount"], currency=product["price"]["currency"])
    await cart.clear_user_cart(user.id)
    assert (await cart.user_cart(user.id)).items == []


async def test_cart_internal_routes_need_a_service(stack: Stack, adapter: str) -> None:
    cart: CartPort = port(stack, adapter, "cart", http.HttpCart, as_service=False)
    await _refused(cart.user_cart(str(uuid.uuid4())), UnauthorizedError)


# -- identity ----------------------------------------------------------------------------------


async def test_identity_user_contact(stack: Stack, adapter: str) -> None:
    identity: IdentityPort = port(stack, adapter, "identity", http.HttpIdentity, caller="notifications")
    user = await stack.register()
    contact = await identity.user_contact(user.id)
    assert (contact.id, contact.email) == (user.id, user.email)
    gone = await _refused(identity.user_contact(str(uuid.uuid4())), NotFoundError)
    assert gone.field == "user_id"


async def test_identity_user_contact_needs_a_service(stack: Stack, adapter: str) -> None:
    identity: IdentityPort = port(stack, adapter, "identity", http.HttpIdentity, caller="web", as_service=False)
    await _refused(identity.user_contact(str(uuid.uuid4())), UnauthorizedError)


# -- media (its own small stack: identity for the tokens, media) ------------------------------


@pytest.fixture(scope="module")
async def media_stack(database_backend: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[MediaStack]:
    from agora.services import identity, media
    from agora.services.identity.operations import create_admin

    tmp = tmp_path_factory.mktemp("media-ports")
    platform = platform_for_tests(tmp, jwks_file=None)
    names = ["identity", "media"]
    async with service_databases(database_backend, names, tmp) as urls:
        specs = [identity.spec, media.spec]
        settings = {spec.name: spec.settings_cls(database_url=urls[spec.name]) for spec in specs}
        async with running_services(specs, platform, settings) as (client, embedded):
            email = f"admin-{uuid.uuid4().hex[:8]}@example.org"
            await create_admin(embedded.contexts["identity"], email=email, password=PASSWORD)
            login = await client.post("/api/identity/login", json={"email": email, "password": PASSWORD})
            yield MediaStack(client, embedded, {"Authorization": f"Bearer {login.json()['access_token']}"})


@dataclass
class MediaStack:
    client: httpx.AsyncClient
    embedded: EmbeddedApp
    admin: dict[str, str]

    async def upload(self, purpose: str) -> str:
        image = io.BytesIO()
        Image.new("RGB", (64, 48), (uuid.uuid4().int % 256, 90, 160)).save(image, format="PNG")
        files = {"file": ("p.png", image.getvalue(), "image/png")}
        response = await self.client.post(
            "/api/media/images", files=files, data={"purpose": purpose}, headers=self.admin
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


async def test_media_lookup_names_what_it_holds(media_stack: MediaStack, adapter: str) -> None:
    media: MediaPort = port(media_stack.embedded, adapter, "media", http.HttpMedia, caller="catalog")
    product, avatar, unknown = (
        await media_stack.upload("product"),
        await media_stack.upload("avatar"),
        str(uuid.uuid4()),
    )
    found = await media.lookup(ImageLookup(ids=[product, avatar, unknown], claim=True))
    assert {(ref.id, ref.purpose) for ref in found.items} == {(product, "product"), (avatar, "avatar")}


async def test_media_lookup_refusals(media_stack: MediaStack, adapter: str) -> None:
    media: MediaPort = port(media_stack.embedded, adapter, "media", http.HttpMedia, caller="catalog")
    bad = await _refused(media.lookup(ImageLookup(ids=["../x"])), UnprocessableError)
    assert bad.field == "body.ids.0"
    anonymous: MediaPort = port(media_stack.embedded, adapter, "media", http.HttpMedia, caller="web", as_service=False)
    await _refused(anonymous.lookup(ImageLookup(ids=[str(uuid.uuid4())])), UnauthorizedError)
