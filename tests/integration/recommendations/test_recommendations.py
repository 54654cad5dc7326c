"""A scripted set of paid orders, fed as events: bought-together pairs rank first, similar products share
category or terms, never the product itself or an inactive one, per user never what they bought,
cold start is popular in the category, a repeated event counts once, rebuild equals the incremental path."""

from __future__ import annotations

import dataclasses
import sys
import uuid
from dataclasses import dataclass, replace

import pytest
from sqlalchemy import delete

from agora.platform.runtime import service_context
from agora.services.recommendations.models import CoPurchase
from agora.services.recommendations.rebuild import rebuild
from agora.services.recommendations.runtime import recommendations_runtime
from agora.services.recommendations.similarity import SimilarityHolder

from .conftest import Item, Recommender, created, deleted, new_id, newer, paid, updated

BT, SIMILAR, POPULAR = "bought_together", "similar", "popular"


@dataclass
class Camp:
    tent: Item
    bag: Item
    stove: Item
    lantern: Item
    mug: Item
    pad: Item
    users: dict[str, str]
    orders: list[object]


@pytest.fixture(scope="module")
async def camp(recommender: Recommender) -> Camp:
    category = f"camp-{uuid.uuid4().hex[:8]}"

    def item(name: str, description: str, *tags: str, days: int = 0) -> Item:
        return Item(new_id(), name, category, description, tags, created_at=newer(days))

    scenario = Camp(
        tent=item("Two Person Tent", "Lightweight dome tent", "shelter"),
        bag=item("Down Sleeping Bag", "Warm down filled bag", "sleeping"),
        stove=item("Gas Stove", "Compact burner", "cooking"),
        lantern=item("LED Lantern", "Rechargeable lantern", "lighting"),
        mug=item("Enamel Mug", "Sturdy enamel cup", "cooking"),
        pad=item("Sleeping Pad", "Inflatable pad for sleeping", "sleeping"),
        users={name: f"user-{name}-{uuid.uuid4().hex[:6]}" for name in "ABCD"},
        orders=[],
    )
    s, u = scenario, scenario.users
    await recommender.publish(*(created(i) for i in (s.tent, s.bag, s.stove, s.lantern, s.mug, s.pad)))
    orders = [
        # the tent on two lines of one order: its pairs still count once for that order
        paid(u["A"], [(s.tent.id, 1), (s.bag.id, 2), (s.stove.id, 1), (s.tent.id, 1)]),
        paid(u["B"], [(s.tent.id, 1), (s.bag.id, 1)]),
        paid(u["C"], [(s.tent.id, 1), (s.bag.id, 1), (s.lantern.id, 1)]),
        paid(u["C"], [(s.tent.id, 1), (s.stove.id, 3)]),
        paid(u["D"], [(s.mug.id, 1), (s.lantern.id, 1)]),
    ]
    await recommender.publish(*orders)
    scenario.orders = orders
    await recommender.refresh()
    return scenario


async def test_bought_together_pairs_rank_first(recommender: Recommender, camp: Camp) -> None:
    response = await recommender.client.get(f"/api/recommendations/products/{camp.tent.id}", params={"limit": 10})
    items = response.json()["items"]
    assert [(i["product_id"], i["reason"], i["score"]) for i in items[:3]] == [
        (camp.bag.id, BT, 3.0),
        (camp.stove.id, BT, 2.0),
        (camp.lantern.id, BT, 1.0),
    ]
    assert all(i["reason"] != BT for i in items[3:])
    assert camp.tent.id not in {i["product_id"] for i in items}

    bag = await recommender.for_product(camp.bag.id)
    assert bag[0] == (camp.tent.id, BT)
    assert set(bag[1:3]) == {(camp.stove.id, BT), (camp.lantern.id, BT)}


async def test_similar_products_share_the_category_or_terms(recommender: Recommender, camp: Camp) -> None:
    # the pad was never bought: what it is shown with comes from its text (and, after that, popularity)
    pad = await recommender.for_product(camp.pad.id, limit=10)
    assert pad[0] == (camp.bag.id, SIMILAR)  # "sleeping"
    assert camp.pad.id not in {product for product, _ in pad}
    assert {reason for _, reason in pad} <= {SIMILAR, POPULAR}
    # the tent's list goes on, after what was bought with it, with what is like it: the pad is
    tent = await recommender.for_product(camp.tent.id, limit=10)
    assert (camp.pad.id, SIMILAR) in tent or (camp.pad.id, POPULAR) in tent


async def test_without_scikit_learn_similar_is_left_out_and_the_rest_answers(
    recommender: Recommender, camp: Camp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as in the common container image, which leaves the ml extra out: importing it fails
    for name in ("numpy", "sklearn"):
        monkeypatch.setitem(sys.modules, name, None)
    kept = recommendations_runtime(recommender.context)
    holder = SimilarityHolder()  # a process that has built nothing
    recommender.context.runtime = dataclasses.replace(kept, similarity=holder)
    try:
        await recommender.refresh()
        assert holder.built and holder.without_ml and len(holder.model) == 0
        tent = await recommender.for_product(camp.tent.id, limit=10)
        assert tent[:3] == [(camp.bag.id, BT), (camp.stove.id, BT), (camp.lantern.id, BT)]
        assert {reason for _, reason in tent[3:]} <= {POPULAR}
        pad = await recommender.for_product(camp.pad.id, limit=10)  # never bought: popular in its category
        assert pad and {reason for _, reason in pad} == {POPULAR}
        assert {reason for _, reason in await recommender.for_user(camp.users["A"], limit=10)} <= {BT, POPULAR}
    finally:
        recommender.context.runtime = kept


async def test_limit_cuts_the_list(recommender: Recommender, camp: Camp) -> None:
    assert await recommender.for_product(camp.tent.id, limit=1) == [(camp.bag.id, BT)]
    assert len(await recommender.for_product(camp.tent.id, limit=50)) <= 50


async def test_per_user_excludes_what_they_bought(recommender: Recommender, camp: Camp) -> None:
    bought_a = {camp.tent.id, camp.bag.id, camp.stove.id}
    mine = await recommender.for_user(camp.users["A"], limit=10)
    assert mine[0] == (camp.lantern.id, BT)  # with the tent once and with the bag once
    assert not bought_a & {product for product, _ in mine}
    assert (camp.pad.id, SIMILAR) in mine  # like the sleeping bag

    bought_c = {camp.tent.id, camp.bag.id, camp.lantern.id, camp.stove.id}
    theirs = await recommender.for_user(camp.users["C"], limit=10)
    assert theirs[0] == (camp.mug.id, BT)  # bought with the lantern
    assert not bought_c & {product for product, _ in theirs}


async def test_a_new_customer_gets_popular_items(recommender: Recommender, camp: Camp) -> None:
    items = await recommender.for_user(f"new-{uuid.uuid4().hex}", limit=5)
    assert len(items) == 5
    assert {reason for _, reason in items} == {POPULAR}


async def test_unknown_product_is_404(recommender: Recommender) -> None:
    response = await recommender.client.get(f"/api/recommendations/products/{new_id()}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in response.json()["errors"]] == ["product_id"]


async def test_the_same_event_twice_counts_once(recommender: Recommender, camp: Camp) -> None:
    before = await recommender.tables()
    answer = await recommender.for_product(camp.tent.id)
    first = camp.orders[0]
    await recommender.publish_again(first)  # the broker redelivers
    # the same order under a new envelope id (the orders relay re-published it): counted once too
    again = replace(first, id=new_id())
    await recommender.publish(again)
    after = await recommender.tables()
    assert {k: v for k, v in after.items() if k != "inbox"} == {k: v for k, v in before.items() if k != "inbox"}
    assert await recommender.for_product(camp.tent.id) == answer


async def test_never_inactive_products(recommender: Recommender) -> None:
    category = f"gone-{uuid.uuid4().hex[:8]}"
    x, y, z, w = (Item(new_id(), f"Widget {n}", category, "A widget", ("widget",)) for n in "XYZW")
    buyer = f"user-{uuid.uuid4().hex[:8]}"
    await recommender.publish(*(created(i) for i in (x, y, z, w)))
    await recommender.publish(
        paid(buyer, [(x.id, 1), (y.id, 1)]),
        paid(buyer, [(x.id, 1), (y.id, 1)]),
        paid("someone", [(x.id, 1), (z.id, 1)]),
        paid("someone", [(x.id, 1), (w.id, 1)]),
    )
    await recommender.refresh()
    assert (await recommender.for_product(x.id))[0] == (y.id, BT)

    # deleted (soft): y is withdrawn; updated to inactive: z is
    y2, z2 = replace(y, active=False, version=2), replace(z, active=False, version=2)
    await recommender.publish(deleted(y2), updated(z2, ["active"]))
    # a late, older event does not bring y back
    await recommender.publish(created(y))

    for refreshed in (False, True):  # before the model is rebuilt, and after
        if refreshed:
            await recommender.refresh()
        shown = {product for product, _ in await recommender.for_product(x.id, limit=50)}
        assert w.id in shown
        assert not {x.id, y.id, z.id} & shown
        mine = {product for product, _ in await recommender.for_user(buyer, limit=50)}
        assert not {x.id, y.id, z.id} & mine

    # an inactive product still answers (its page may be open), with active products only
    assert not {y.id, z.id} & {product for product, _ in await recommender.for_product(y.id, limit=50)}


async def test_cold_start_is_popular_in_the_category(recommender: Recommender) -> None:
    category = f"cold-{uuid.uuid4().hex[:8]}"
    best = Item(new_id(), "Alpha", category, created_at=newer(1))
    second = Item(new_id(), "Bravo", category, created_at=newer(2))
    newest = Item(new_id(), "Charlie", category, created_at=newer(5))
    oldest = Item(new_id(), "Delta", category, created_at=newer(0))
    elsewhere = Item(new_id(), "Echo", f"other-{category}", created_at=newer(9))
    await recommender.publish(*(created(i) for i in (best, second, newest, oldest, elsewhere)))
    await recommender.publish(
        paid("cold-1", [(best.id, 5)]), paid("cold-2", [(second.id, 2)]), paid("cold-3", [(elsewhere.id, 50)])
    )
    await recommender.refresh()
    # a brand-new product: never bought, not yet in the similarity model
    fresh = Item(new_id(), "Foxtrot", category, created_at=newer(10))
    await recommender.publish(created(fresh))
    assert await recommender.for_product(fresh.id) == [
        (best.id, POPULAR),
        (second.id, POPULAR),
        (newest.id, POPULAR),
        (oldest.id, POPULAR),
    ]


async def test_rebuild_gives_the_same_answers(recommender: Recommender, camp: Camp) -> None:
    async def answers() -> list[object]:
        products = [camp.tent, camp.bag, camp.stove, camp.lantern, camp.mug, camp.pad]
        result: list[object] = [await recommender.for_product(p.id, limit=20) for p in products]
        result += [await recommender.for_user(user, limit=20) for user in camp.users.values()]
        return result

    tables, before = await recommender.tables(), await answers()
    # lose the derived counts, as after a bug or a restore of the facts alone
    async with recommender.context.sessions() as session:
        await session.execute(delete(CoPurchase))
        await session.commit()
    assert await answers() != before

    counts = await rebuild(recommender.context)
    assert counts["orders"] >= len(camp.orders)
    assert counts["co_purchases"] >= 6 and counts["similarity_products"] >= 6
    assert await recommender.tables() == tables
    assert await answers() == before

    # as `agora rebuild-recommendations` runs it: a one-off context, no relay or consumers of its own
    context = recommender.context
    async with service_context(context.spec, context.platform, context.settings) as one_off:
        again = await rebuild(one_off)
    assert again == counts
    assert await recommender.tables() == tables
    assert await answers() == before
