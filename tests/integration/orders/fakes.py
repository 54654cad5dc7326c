"""In-memory fakes of the services the saga calls (the ports of ``gateways.py``).

They keep what a real service would keep (reservations, charges) so a test can assert the
saga's effects: one charge per paid order, nothing held after a failure. Switches make a
service decline, fail or go down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agora.services.orders.gateways import (
    Card,
    CartLine,
    Charge,
    Declined,
    Gateways,
    OutOfStock,
    ProductInfo,
    ProviderFailed,
    ReservationLost,
    Shipment,
    StockLine,
    Unavailable,
    Unknown,
)

DECLINED_CARD = "4000000000000002"
PROVIDER_ERROR_CARD = "4000000000000119"


@dataclass
class FakeCart:
    carts: dict[str, list[CartLine]] = field(default_factory=dict)
    down: bool = False

    async def lines(self, user_id: str) -> list[CartLine]:
        if self.down:
            raise Unavailable("cart")
        return list(self.carts.get(user_id, []))

    async def clear(self, user_id: str) -> None:
        if self.down:
            raise Unavailable("cart")
        self.carts.pop(user_id, None)


@dataclass
class FakeCatalog:
    products: dict[str, ProductInfo] = field(default_factory=dict)

    async def product(self, product_id: str) -> ProductInfo | None:
        return self.products.get(product_id)


@dataclass
class FakeCurrency:
    #: units of the currency per USD, as the currency service keeps them
    rates: dict[str, float] = field(default_factory=lambda: {"USD": 1.0, "EUR": 0.5})

    async def convert(self, amount: int, source: str, target: str) -> int:
        return round(amount / self.rates[source] * self.rates[target])


@dataclass
class FakeShipping:
    cost: int = 500
    shipments: dict[str, Shipment] = field(default_factory=dict)

    async def quote(self, address: dict[str, str], items: Sequence[StockLine], currency: str) -> tuple[int, str]:
        return self.cost, "USD"

    async def ship(self, order_id: str, address: dict[str, str], items: Sequence[StockLine]) -> Shipment:
        return self.shipments.setdefault(order_id, Shipment(id=f"shp-{order_id[:8]}", tracking_id=f"TRK{order_id[:8]}"))


@dataclass
class FakeInventory:
    stock: dict[str, int] = field(default_factory=dict)
    reservations: dict[str, tuple[str, list[StockLine]]] = field(default_factory=dict)
    down: bool = False
    commit_down: bool = False

    async def reserve(self, reservation_id: str, items: Sequence[StockLine], ttl_seconds: int) -> None:
        if self.down:
            raise Unavailable("inventory")
        if reservation_id in self.reservations:
            return
        for index, item in enumerate(items):
            if self.stock.get(item.sku, 0) < item.quantity:
                raise OutOfStock(index, item.sku, self.stock.get(item.sku, 0))
        for item in items:
            self.stock[item.sku] -= item.quantity
        self.reservations[reservation_id] = ("held", list(items))

    async def commit(self, reservation_id: str) -> None:
        if self.down or self.commit_down:
            raise Unavailable("inventory")
        state, items = self.reservations.get(reservation_id, ("missing", []))
        if state not in ("held", "committed"):
            raise ReservationLost("inventory")
        self.reservations[reservation_id] = ("committed", items)

    async def release(self, reservation_id: str) -> None:
        if self.down:
            raise Unavailable("inventory")
        state, items = self.reservations.get(reservation_id, ("missing", []))
        if state in ("held", "committed"):
            for item in items:
                self.stock[item.sku] += item.quantity
            self.reservations[reservation_id] = ("released", items)

    def held(self) -> dict[str, str]:
        return {key: state for key, (state, _) in self.reservations.items() if state != "released"}


@dataclass
class FakePayments:
    charges: dict[str, dict[str, object]] = field(default_factory=dict)
    down: bool = False
    #: the charge is made but the answer is lost (a timeout after sending)
    lose_answer: bool = False

    async def charge(self, *, order_id: str, user_id: str, amount: int, currency: str, card: Card) -> Charge:
        if self.down:
            raise Unavailable("payments")
        if card.number == DECLINED_CARD:
            raise Declined("payments")
        if card.number == PROVIDER_ERROR_CARD:
            raise ProviderFailed("payments")
        charge = self.charges.setdefault(
            order_id, {"id": f"ch-{order_id[:8]}", "status": "captured", "amount": amount, "currency": currency}
        )
        if self.lose_answer:
            raise Unknown("payments")
        return Charge(id=str(charge["id"]), brand="visa", last4=card.number[-4:])

    async def captured(self, order_id: str) -> Charge | None:
        if self.down:
            raise Unavailable("payments")
        charge = self.charges.get(order_id)
        if charge is None or charge["status"] != "captured":
            return None
        return Charge(id=str(charge["id"]), brand="visa", last4="4242")

    async def refund(self, charge_id: str) -> None:
        if self.down:
            raise Unavailable("payments")
        for charge in self.charges.values():
            if charge["id"] == charge_id:
                charge["status"] = "refunded"

    def captured_count(self) -> int:
        return sum(1 for charge in self.charges.values() if charge["status"] == "captured")


@dataclass
class Fakes:
    cart: FakeCart = field(default_factory=FakeCart)
    catalog: FakeCatalog = field(default_factory=FakeCatalog)
    currency: FakeCurrency = field(default_factory=FakeCurrency)
    shipping: FakeShipping = field(default_factory=FakeShipping)
    inventory: FakeInventory = field(default_factory=FakeInventory)
    payments: FakePayments = field(default_factory=FakePayments)

    def gateways(self) -> Gateways:
        return Gateways(
            cart=self.cart,
            catalog=self.catalog,
            currency=self.currency,
            shipping=self.shipping,
            inventory=self.inventory,
            payments=self.payments,
        )
