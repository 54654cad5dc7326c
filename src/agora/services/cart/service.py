"""The cart's rules: bounds, which products may go in, merging, and pricing at read time.

No web framework and no commit here. Refusals are :class:`~agora.platform.errors.ServiceError`
subclasses naming the field: a quantity past the per-line bound or an unknown product is a 422,
a line that is not in the cart a 404. The store enforces the bounds atomically (see
:mod:`.store`); this module turns its refusals into messages a shopper can act on.

Pricing: a cart stores product ids and quantities only. Reads ask the catalog for each product
(concurrently) and price the lines with what it says now. A product that vanished or was
withdrawn stays in the cart, ``available: false`` and unpriced, so the shopper sees what
happened instead of a line silently disappearing. If the catalog does not answer, the cart
still answers with its quantities and ``pricing: "unavailable"``.

Currencies: every catalog price is in USD today, and the cart assumes the products it holds
share one currency. If they ever do not, lines keep their own prices but the cart gives no
subtotal (``pricing: "mixed_currencies"``) rather than add up amounts in different units;
checkout converts to the order's currency with the currency service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from datetime import timedelta

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from agora.contracts.cart import Cart, CartItemAdded, CartLine, Pricing
from agora.contracts.catalog import Money, Product
from agora.platform.db import unit_of_work
from agora.platform.db.types import utcnow
from agora.platform.errors import NotFoundError, UnprocessableError
from agora.platform.messaging import Outbox
from agora.platform.observability.metrics import preinitialise
from agora.platform.service import ServiceContext
from agora.platform.settings import PlatformSettings
from agora.services.cart.pricing import CatalogPrices, CatalogUnavailable
from agora.services.cart.repository import SWEEP_BATCH, SqlCartStore
from agora.services.cart.settings import CartSettings, StoreKind
from agora.services.cart.store import Bound, CartStore, LimitExceededError, Limits, Line

USER = "user:"
ANONYMOUS = "anon:"

cart_operations_total = Counter(
    "agora_cart_operations_total",
    "Cart changes and reads, by operation (add, update, remove, clear, merge, view).",
    ("operation",),
)
preinitialise(cart_operations_total, "add", "update", "remove", "clear", "merge", "view")


def user_owner(user_id: str) -> str:
    return f"{USER}{user_id}"


def anonymous_owner(cart_id: str) -> str:
    return f"{ANONYMOUS}{cart_id}"


def uses_redis(settings: CartSettings, platform: PlatformSettings) -> bool:
    """Whether carts live in Redis: ``store=redis``, or ``auto`` with ``AGORA_REDIS_URL`` set."""
    kind = settings.store
    if kind is StoreKind.redis and not platform.redis_url:
        raise RuntimeError("AGORA_CART_STORE=redis needs AGORA_REDIS_URL")
    return kind is StoreKind.redis or (kind is StoreKind.auto and platform.redis_url is not None)


# -- the rules -------------------------------------------------------------------------------------


class CartService:
    def __init__(
        self,
        store: CartStore,
        catalog: CatalogPrices,
        settings: CartSettings,
        *,
        session: AsyncSession | None = None,
        events: Outbox | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.settings = settings
        # ``cart.item.added`` goes to the outbox in ``session`` (the request's transaction) when both are given
        self.session = session
        self.events = events

    def limits(self, owner: str) -> Limits:
        ttl = self.settings.anonymous_ttl_seconds if owner.startswith(ANONYMOUS) else self.settings.user_ttl_seconds
        return Limits(max_quantity=self.settings.max_quantity, max_lines=self.settings.max_lines, ttl_seconds=ttl)

    async def view(self, owner: str | None, cart_id: str | None) -> Cart:
        lines = await self.store.lines(owner) if owner is not None else []
        cart_operations_total.labels("view").inc()
        return await self.priced(cart_id, lines)

    async def add(self, owner: str, product_id: str, quantity: int) -> int:
        """Adds to the line (a new line for a new product); returns the line's quantity now."""
        await self._require_sellable(product_id, field="product_id", missing=UnprocessableError)
        total = await self._bounded("add", quantity, self.store.add(owner, product_id, quantity, self.limits(owner)))
        await self._publish_added(owner, product_id, quantity, total)
        return total

    async def _publish_added(self, owner: str, product_id: str, quantity: int, total: int) -> None:
        if self.events is None or self.session is None:
            return
        signed_in = owner.startswith(USER)
        event = CartItemAdded(
            product_id=product_id,
            quantity=quantity,
            line_quantity=total,
            user_id=owner.removeprefix(USER) if signed_in else None,
            cart_id=None if signed_in else owner.removeprefix(ANONYMOUS),
        )
        await self.events.add(self.session, event, subject=product_id)

    async def update(self, owner: str, product_id: str, quantity: int) -> int:
        """Sets the line's quantity (a PUT: the line is created when missing)."""
        if quantity > self.settings.max_quantity:
            raise self._refusal(LimitExceededError(Bound.quantity, 0), adding=quantity)
        await self._require_sellable(product_id, field="product_id", missing=NotFoundError)
        return await self._bounded("update", quantity, self.store.put(owner, product_id, quantity, self.limits(owner)))

    async def _bounded(self, operation: str, quantity: int, write: Awaitable[int]) -> int:
        try:
            total = await write
        except LimitExceededError as exc:
            raise self._refusal(exc, adding=quantity) from None
        cart_operations_total.labels(operation).inc()
        return total

    async def remove(self, owner: str, product_id: str) -> None:
        if not await self.store.remove(owner, product_id, self.limits(owner)):
            raise NotFoundError(f"Product {product_id} is not in the cart.", field="product_id")
        cart_operations_total.labels("remove").inc()

    async def clear(self, owner: str) -> int:
        removed = await self.store.clear(owner)
        cart_operations_total.labels("clear").inc()
        return removed

    async def merge(self, source: str, target: str) -> int:
        """Moves an anonymous cart into a user's (quantities added, capped); returns lines moved."""
        moved = await self.store.merge(source, target, self.limits(target))
        if moved:
            cart_operations_total.labels("merge").inc()
        return moved

    async def _require_sellable(
        self, product_id: str, *, field: str, missing: type[NotFoundError] | type[UnprocessableError]
    ) -> Product:
        # the catalog answers visitors 404 for withdrawn products; an inactive one is refused too
        product = await self.catalog.product(product_id)
        if product is None or not product.active:
            raise missing(f"No product with id {product_id} is for sale.", field=field)
        return product

    def _refusal(self, exc: LimitExceededError, *, adding: int) -> UnprocessableError:
        if exc.bound is Bound.lines:
            return UnprocessableError(
                f"A cart holds at most {self.settings.max_lines} different products; remove one first.",
                field="product_id",
            )
        already = f"; the cart already holds {exc.current}" if exc.current else ""
        wanted = exc.current + adding
        return UnprocessableError(
            f"A cart line holds at most {self.settings.max_quantity} of a product, not {wanted}{already}.",
            field="quantity",
        )

    # -- pricing ---------------------------------------------------------------------------------

    async def priced(self, cart_id: str | None, lines: Sequence[Line]) -> Cart:
        item_count = sum(line.quantity for line in lines)
        try:
            products = await self.catalog.products(line.product_id for line in lines) if lines else {}
        except CatalogUnavailable:
            items = [CartLine(product_id=line.product_id, quantity=line.quantity) for line in lines]
            return Cart(id=cart_id, items=items, subtotal=None, item_count=item_count, pricing="unavailable")
        return price_lines(cart_id, lines, products, default_currency=self.settings.default_currency)


def price_lines(
    cart_id: str | None,
    lines: Sequence[Line],
    products: dict[str, Product | None],
    *,
    default_currency: str,
) -> Cart:
    """The cart body from its lines and what the catalog said about each product (pure)."""
    items: list[CartLine] = []
    currencies: set[str] = set()
    amount = 0
    for line in lines:
        product = products.get(line.product_id)
        if product is None or not product.active:
            items.append(
                CartLine(
                    product_id=line.product_id,
                    sku=product.sku if product else None,
                    name=product.name if product else None,
                    quantity=line.quantity,
                    available=False,
                )
            )
            continue
        price = product.price
        currencies.add(price.currency)
        amount += price.amount * line.quantity
        items.append(
            CartLine(
                product_id=line.product_id,
                sku=product.sku,
                name=product.name,
                quantity=line.quantity,
                unit_price=price,
                line_total=Money(amount=price.amount * line.quantity, currency=price.currency),
                available=True,
            )
        )
    item_count = sum(line.quantity for line in lines)
    pricing: Pricing = "ok"
    subtotal: Money | None
    if len(currencies) > 1:
        pricing, subtotal = "mixed_currencies", None
    else:
        subtotal = Money(amount=amount, currency=next(iter(currencies), default_currency))
    return Cart(id=cart_id, items=items, subtotal=subtotal, item_count=item_count, pricing=pricing)


# -- expiry (SQL store; Redis keys expire by themselves) ---------------------------------------------


async def sweep_expired(context: ServiceContext) -> int:
    """Deletes SQL carts untouched for longer than their TTL; returns how many lines went."""
    settings = context.settings_as(CartSettings)
    if uses_redis(settings, context.platform):
        return 0
    removed = 0
    now = utcnow()
    for prefix, ttl in ((ANONYMOUS, settings.anonymous_ttl_seconds), (USER, settings.user_ttl_seconds)):
        cutoff = now - timedelta(seconds=ttl)
        while True:
            async with unit_of_work(context) as session:
                store = SqlCartStore(session)
                owners = await store.expired_owners(prefix, cutoff)
                removed += await store.delete_owners(owners)
            if len(owners) < SWEEP_BATCH:
                break
    return removed


__all__ = [
    "CartService",
    "cart_operations_total",
    "price_lines",
    "sweep_expired",
    "user_owner",
    "uses_redis",
]
