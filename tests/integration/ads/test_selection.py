"""Which ads a page gets: by category, by keywords, the generic fallback, dates, weight, the cache.

Each test creates ads under its own made-up category slugs and keywords, so the seeded demo ads
(real category slugs, real keywords) and the other tests' ads never interfere.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from agora.services.ads.seed import DEMO_ADS, seed

from .conftest import API, Ads


def ids(items: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [item["id"] for item in items]


async def test_the_seed_covers_the_demo_categories_and_serves_them(ads: Ads) -> None:
    demo_categories = {
        "footwear",
        "apparel",
        "kitchen",
        "electronics",
        "home",
        "outdoor",
        "books",
        "toys",
        "beauty",
        "sports",
    }
    assert {c for ad in DEMO_ADS for c in ad.categories} == demo_categories
    assert sum(1 for ad in DEMO_ADS if not ad.categories) == 2
    served = await ads.serve(category="footwear", keywords="running shoes")
    assert served[0]["id"] == next(ad.id for ad in DEMO_ADS if ad.name == "footwear-run")
    assert served[0]["reason"] == "category_and_keywords"
    assert set(served[0]) == {"id", "title", "text", "url", "image", "reason"}


async def test_by_category(ads: Ads, admin_token: str) -> None:
    mine = await ads.create(admin_token, title="Tea", categories=["cat-tea"], keywords=["oolong"])
    await ads.create(admin_token, title="Other", categories=["cat-coffee"], keywords=["espresso"])
    served = await ads.serve(category="cat-tea")
    assert ids(served) == [mine["id"]]
    assert served[0]["reason"] == "category"


async def test_by_keywords_normalised_and_stemmed(ads: Ads, admin_token: str) -> None:
    mine = await ads.create(admin_token, title="Kites", categories=["cat-kites"], keywords=["stunt-kite", "beaches"])
    served = await ads.serve(category="cat-none", keywords="Kites,BEACH")
    assert ids(served) == [mine["id"]]
    assert served[0]["reason"] == "keywords"


async def test_category_and_keywords_outrank_category_and_weight_breaks_ties(ads: Ads, admin_token: str) -> None:
    heavy = await ads.create(admin_token, title="Heavy", categories=["cat-w"], keywords=["alpha"], weight=900)
    light = await ads.create(admin_token, title="Light", categories=["cat-w"], keywords=["beta"], weight=10)
    middle = await ads.create(admin_token, title="Middle", categories=["cat-w"], keywords=["gamma"], weight=500)
    assert ids(await ads.serve(category="cat-w", limit=10)) == [heavy["id"], middle["id"], light["id"]]
    ranked = await ads.serve(category="cat-w", keywords="beta", limit=10)
    assert ids(ranked) == [light["id"], heavy["id"], middle["id"]]
    assert ranked[0]["reason"] == "category_and_keywords"
    assert ids(await ads.serve(category="cat-w", limit=1)) == [heavy["id"]]


async def test_a_page_with_no_match_gets_a_generic_ad(ads: Ads) -> None:
    served = await ads.serve(category="cat-nothing-here", keywords="zzzyx")
    generic = sorted((ad for ad in DEMO_ADS if not ad.categories), key=lambda ad: -ad.weight)
    assert [item["reason"] for item in served] == ["generic"] * len(served)
    assert ids(served)[0] == generic[0].id
    assert ids(await ads.serve())[0] == generic[0].id


async def test_inactive_and_out_of_date_ads_are_never_served(ads: Ads, admin_token: str) -> None:
    now = datetime.now(UTC)
    live = await ads.create(admin_token, title="Live", categories=["cat-dates"], weight=1)
    await ads.create(admin_token, title="Off", categories=["cat-dates"], active=False, weight=1000)
    await ads.create(
        admin_token,
        title="Expired",
        categories=["cat-dates"],
        weight=1000,
        starts_at=(now - timedelta(days=2)).isoformat(),
        ends_at=(now - timedelta(days=1)).isoformat(),
    )
    await ads.create(
        admin_token,
        title="Future",
        categories=["cat-dates"],
        weight=1000,
        starts_at=(now + timedelta(days=1)).isoformat(),
    )
    windowed = await ads.create(
        admin_token,
        title="Now",
        categories=["cat-dates"],
        weight=2,
        starts_at=(now - timedelta(hours=1)).isoformat(),
        ends_at=(now + timedelta(hours=1)).isoformat(),
    )
    assert ids(await ads.serve(category="cat-dates", limit=10)) == [windowed["id"], live["id"]]
    # switching an ad off takes it out at once (the write clears the cache)
    response = await ads.client.patch(
        f"{API}/{live['id']}", json={"active": False}, headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert response.status_code == 200, response.text
    assert ids(await ads.serve(category="cat-dates", limit=10)) == [windowed["id"]]


async def test_answers_are_cached_and_a_write_clears_them(ads: Ads, admin_token: str) -> None:
    first = await ads.client.get(API, params={"category": "cat-cache"})
    assert first.status_code == 200
    cache = ads.context.read_cache
    hits = cache.stats.hits
    again = await ads.client.get(API, params={"category": "cat-cache"})
    assert again.content == first.content and cache.stats.hits == hits + 1
    mine = await ads.create(admin_token, title="Cached", categories=["cat-cache"])
    fresh = await ads.client.get(API, params={"category": "cat-cache"})
    assert ids(fresh.json()["items"]) == [mine["id"]]


async def test_served_ads_are_counted_by_reason(ads: Ads) -> None:
    def count(reason: str) -> float:
        return REGISTRY.get_sample_value("agora_ads_served_total", {"reason": reason}) or 0.0

    before = count("generic")
    served = await ads.serve(category="cat-metrics-none", limit=2)
    assert len(served) == 2
    assert count("generic") == before + 2
    metrics = await ads.client.get("/metrics")
    assert 'agora_ads_served_total{reason="generic"}' in metrics.text


async def test_the_seed_is_idempotent_and_the_openapi_document_builds(ads: Ads) -> None:
    before = await ads.state()
    assert await seed(ads.context) == 0
    assert await ads.state() == before
    created = await ads.events("ads.ad.created")
    assert {ad.id for ad in DEMO_ADS} <= {event["key"] for event in created}
    document = await ads.client.get("/api/ads/openapi.json")
    if document.status_code == 404:
        document = await ads.client.get("/openapi.json")
    assert document.status_code == 200
    assert "/api/ads" in document.json()["paths"]
