"""Analytics' rules: recording order and funnel facts, and answering the summary and the ML routes.

No web framework and no commit here. Refusals are :class:`~agora.platform.errors.ServiceError`
subclasses naming the field.

Order events may arrive in any order and more than once (the inbox drops exact repeats): each one
upserts the order's fact row, so ``placed`` and ``paid`` (which carry the same facts) write the
lines once, and a ``cancelled`` before its ``paid`` still ends cancelled.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agora.contracts.orders import OrderCancelled, OrderFacts, OrderFailed
from agora.platform import ml
from agora.platform.db.types import iso_utc, utcnow
from agora.platform.errors import NotFoundError, ServiceUnavailableError, UnprocessableError
from agora.services.analytics import anomalies, forecast, reports
from agora.services.analytics.models import (
    CANCELLED,
    FAILED,
    PAID,
    PLACED,
    Activity,
    OrderFact,
    OrderFactLine,
)
from agora.services.analytics.repository import AnalyticsRepository

DEFAULT_SUMMARY_DAYS = 30
MAX_SUMMARY_DAYS = 366
DEFAULT_ANALYZE_DAYS = 90
DEFAULT_CONTAMINATION = 0.02
MAX_TOP = 50


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def today() -> date:
    return utcnow().date()


def period(start: date | None, end: date | None, *, default_days: int, fields: tuple[str, str]) -> tuple[date, date]:
    """The inclusive day range asked for, defaulted and checked (``fields`` name from and to)."""
    end = end or today()
    start = start or end - timedelta(days=default_days - 1)
    if start > end:
        raise UnprocessableError(f"'from' ({start}) is after 'to' ({end}).", field=fields[0])
    if (end - start).days + 1 > MAX_SUMMARY_DAYS:
        raise UnprocessableError(f"A period spans at most {MAX_SUMMARY_DAYS} days.", field=fields[1])
    return start, end


class AnalyticsService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repository = AnalyticsRepository(session)

    # -- recording -------------------------------------------------------------------------------

    async def record_order(self, facts: OrderFacts, at: datetime, *, paid: bool) -> None:
        fact = await self.repository.order(facts.order_id)
        if fact is None:
            fact = OrderFact(
                order_id=facts.order_id,
                user_id=facts.user_id,
                status=PAID if paid else PLACED,
                checkout_at=at,
                paid_at=at if paid else None,
                units=0,
                demo=False,
                recorded_at=utcnow(),
            )
            self.repository.add(fact)
        elif paid and fact.paid_at is None:
            fact.paid_at = at
            if fact.status != CANCELLED:
                fact.status = PAID
        if fact.status == FAILED:
            fact.status = PAID if paid else PLACED
        fact.currency = facts.currency
        fact.subtotal = facts.subtotal.amount
        fact.shipping = facts.shipping.amount
        fact.total = facts.total.amount
        fact.units = sum(line.quantity for line in facts.items)
        await self.repository.flush()
        if not await self.repository.has_lines(facts.order_id):
            for position, line in enumerate(facts.items):
                self.repository.add(
                    OrderFactLine(
                        order_id=facts.order_id,
                        position=position,
                        product_id=line.product_id,
                        sku=line.sku,
                        name=line.name[:200],
                        quantity=line.quantity,
                        amount=line.line_total.amount,
                    )
                )
            await self.repository.flush()

    async def record_failed(self, event: OrderFailed, at: datetime) -> None:
        if await self.repository.order(event.order_id) is None:
            self.repository.add(
                OrderFact(
                    order_id=event.order_id,
                    user_id=event.user_id,
                    status=FAILED,
                    checkout_at=at,
                    units=0,
                    demo=False,
                    recorded_at=utcnow(),
                )
            )
            await self.repository.flush()

    async def record_cancelled(self, event: OrderCancelled, at: datetime) -> None:
        fact = await self.repository.order(event.order_id)
        if fact is None:
            fact = OrderFact(
                order_id=event.order_id,
                user_id=event.user_id,
                status=CANCELLED,
                currency=event.total.currency,
                total=event.total.amount,
                checkout_at=at,
                units=0,
                demo=False,
                recorded_at=utcnow(),
            )
            self.repository.add(fact)
        fact.status = CANCELLED
        fact.cancelled_at = fact.cancelled_at or at
        await self.repository.flush()

    async def record_activity(self, kind: str, product_id: str, user_id: str | None, at: datetime) -> None:
        self.repository.add(
            Activity(kind=kind, product_id=product_id, user_id=user_id, occurred_at=at, weight=1, demo=False)
        )
        await self.repository.flush()

    # -- the summary -----------------------------------------------------------------------------

    async def summary(self, start: date | None, end: date | None, *, top: int) -> dict[str, Any]:
        first, last = period(start, end, default_days=DEFAULT_SUMMARY_DAYS, fields=("query.from", "query.to"))
        lo, hi = day_start(first), day_start(last + timedelta(days=1))
        rows = await self.repository.paid_orders(lo, hi)
        orders = [
            reports.PaidOrder(
                order_id=fact.order_id,
                currency=fact.currency or "",
                total=fact.total or 0,
                paid_on=_aware(fact.paid_at).date() if fact.paid_at else first,
                lines=[reports.Line(li.product_id, li.name, li.quantity, li.amount) for li in lines],
            )
            for fact, lines in rows
        ]
        counts = reports.FunnelCounts(
            views=await self.repository.activity("view", lo, hi),
            carts=await self.repository.activity("cart", lo, hi),
            checkouts=await self.repository.checkouts(lo, hi),
            paid=await self.repository.paid_count(lo, hi),
        )
        return {"from": first.isoformat(), "to": last.isoformat(), **reports.summarize(orders, counts, top=top)}

    # -- ML --------------------------------------------------------------------------------------

    async def predict(self, product_id: str, horizon_days: int, *, history_days: int) -> dict[str, Any]:
        if not await self.repository.product_known(product_id):
            raise NotFoundError(f"No orders of product {product_id} to learn from.", field="product_id")
        end_day = today()  # the history ends yesterday: today is not over
        start_day = end_day - timedelta(days=history_days)
        sales = await self.repository.product_sales(product_id, day_start(start_day), day_start(end_day))
        units: dict[date, int] = defaultdict(int)
        for paid_at, quantity in sales:
            units[_aware(paid_at).date()] += quantity
        if not units:
            raise UnprocessableError(
                f"Product {product_id} sold nothing in the last {history_days} days; there is nothing to forecast.",
                field="product_id",
            )
        first = min(units)
        days = [first + timedelta(days=i) for i in range((end_day - first).days)]
        series = [float(units.get(day, 0)) for day in days]
        try:
            fitted = forecast.holt_forecast(series, horizon_days)
        except forecast.TooLittleHistory:
            raise UnprocessableError(
                f"Product {product_id} has {len(series)} days of sales history; a forecast needs at least "
                f"{forecast.MIN_OBSERVATIONS}.",
                field="product_id",
            ) from None
        return {
            "product_id": product_id,
            "horizon_days": horizon_days,
            "confidence": fitted.confidence,
            "model": {
                "name": "holt",
                "alpha": fitted.alpha,
                "beta": fitted.beta,
                "sigma": round(fitted.sigma, 4),
                "level": round(fitted.level, 4),
                "trend": round(fitted.trend, 4),
                "observations": len(series),
                "history_from": days[0].isoformat(),
                "history_to": days[-1].isoformat(),
            },
            "forecast": [
                {
                    "date": (end_day + timedelta(days=i)).isoformat(),
                    "units": round(point.units, 3),
                    "lower": round(point.lower, 3),
                    "upper": round(point.upper, 3),
                }
                for i, point in enumerate(fitted.points)
            ],
        }

    async def analyze(self, start: date | None, end: date | None, contamination: float | None) -> dict[str, Any]:
        first, last = period(start, end, default_days=DEFAULT_ANALYZE_DAYS, fields=("from", "to"))
        if absent := ml.missing():
            # the common container image leaves scikit-learn out (agora-ml has it): this feature
            # degrades, the rest of analytics (the summary, the forecast) answers as usual
            raise ServiceUnavailableError(
                f"Anomaly detection needs scikit-learn, which is not installed here ({', '.join(absent)} "
                f"missing): {ml.HINT}.",
                reason="ml_not_installed",
            )
        facts = await self.repository.priced_orders(day_start(first), day_start(last + timedelta(days=1)))
        points = [
            anomalies.OrderPoint(
                order_id=f.order_id,
                user_id=f.user_id,
                currency=f.currency or "",
                total=f.total or 0,
                at=_aware(f.checkout_at),
            )
            for f in facts
        ]
        try:
            scored = await anomalies.score_elsewhere(points, contamination=contamination or DEFAULT_CONTAMINATION)
        except anomalies.TooFewOrders:
            raise UnprocessableError(
                f"Only {len(points)} orders between {first} and {last}; anomaly detection needs at least "
                f"{anomalies.MIN_ORDERS}. Widen the period.",
                field="from",
            ) from None
        flagged = sorted((s for s in scored if s.flagged), key=lambda s: (-s.score, s.order.order_id))
        return {
            "from": first.isoformat(),
            "to": last.isoformat(),
            "orders_analyzed": len(points),
            "contamination": contamination or DEFAULT_CONTAMINATION,
            "flagged": [
                {
                    "order_id": s.order.order_id,
                    "user_id": s.order.user_id,
                    "total": {"amount": s.order.total, "currency": s.order.currency},
                    "at": iso_utc(s.order.at),
                    "score": round(s.score, 4),
                    "amount_z": round(s.amount_z, 3),
                    "orders_24h": s.orders_24h,
                }
                for s in flagged
            ],
        }


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


__all__ = ["MAX_TOP", "AnalyticsService", "period"]
