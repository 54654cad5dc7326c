"""The demo ads: two per category of the demo catalog and two generic ones.

The category slugs and keywords mirror the demo catalog's categories and product tags (read from
``agora/services/catalog/seed_data.py`` by a person, never imported: services share nothing but
contracts). Ids are fixed (uuid5 of a name), so the seed is idempotent: only missing ads are
inserted, a re-run never overwrites what an admin changed, and each inserted ad publishes
``ads.ad.created`` exactly as an admin's create does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from agora.platform.db import unit_of_work
from agora.platform.messaging import Outbox
from agora.platform.service import ServiceContext
from agora.services.ads.repository import AdRepository
from agora.services.ads.schemas import AdCreate
from agora.services.ads.service import AdsService

_NAMESPACE = uuid.UUID("6f1c2a4e-5b0d-4f7a-9a43-2d1f0e8c7b11")


@dataclass(frozen=True)
class DemoAd:
    name: str
    title: str
    text: str
    url: str
    categories: tuple[str, ...]
    keywords: tuple[str, ...]
    weight: int = 100

    @property
    def id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, self.name))


DEMO_ADS: tuple[DemoAd, ...] = (
    DemoAd(
        "footwear-run",
        "Run further this season",
        "Breathable running shoes with responsive foam, from 79.",
        "/c/footwear?tag=running",
        ("footwear",),
        ("running", "shoes", "breathable"),
        120,
    ),
    DemoAd(
        "footwear-hike",
        "Boots that keep you dry",
        "Waterproof hiking boots with lugged soles.",
        "/c/footwear?tag=hiking",
        ("footwear", "outdoor"),
        ("hiking", "boots", "waterproof"),
    ),
    DemoAd(
        "apparel-knit",
        "Merino for winter",
        "Extra-fine merino knitwear that breathes.",
        "/c/apparel?tag=wool",
        ("apparel",),
        ("knitwear", "wool", "winter"),
        110,
    ),
    DemoAd(
        "apparel-jacket",
        "Weatherproof jackets",
        "Taped seams, adjustable hoods, recycled ripstop.",
        "/c/apparel?tag=jackets",
        ("apparel", "outdoor"),
        ("jackets", "waterproof", "outdoor"),
    ),
    DemoAd(
        "kitchen-cast-iron",
        "Cast iron for life",
        "Pre-seasoned pans that go from hob to oven.",
        "/c/kitchen?tag=cookware",
        ("kitchen",),
        ("cookware", "cast-iron", "oven-safe"),
        110,
    ),
    DemoAd(
        "kitchen-coffee",
        "Brew better coffee",
        "Pour-over sets in borosilicate glass.",
        "/c/kitchen?tag=coffee",
        ("kitchen",),
        ("coffee", "brewing", "glass"),
    ),
    DemoAd(
        "electronics-audio",
        "Hear every detail",
        "Noise-cancelling headphones and waterproof speakers.",
        "/c/electronics?tag=audio",
        ("electronics",),
        ("audio", "headphones", "speakers", "bluetooth"),
        120,
    ),
    DemoAd(
        "electronics-charging",
        "One charger for everything",
        "65 W USB-C chargers that fold into a pocket.",
        "/c/electronics?tag=charging",
        ("electronics",),
        ("charging", "usb-c", "travel"),
    ),
    DemoAd(
        "home-lighting",
        "Light a warmer home",
        "Dimmable lamps in opal glass and walnut.",
        "/c/home?tag=lighting",
        ("home",),
        ("lighting", "lamps", "decor"),
        110,
    ),
    DemoAd(
        "home-textiles",
        "Cosy evenings",
        "Lambswool blankets and soy candles.",
        "/c/home?tag=textiles",
        ("home",),
        ("textiles", "blankets", "candles", "cosy"),
    ),
    DemoAd(
        "outdoor-camp",
        "Sleep under the stars",
        "Waterproof tents and insulated sleeping bags.",
        "/c/outdoor?tag=camping",
        ("outdoor",),
        ("camping", "tents", "sleeping"),
        120,
    ),
    DemoAd(
        "outdoor-pack",
        "Pack for the trail",
        "Hiking backpacks built for the long way round.",
        "/c/outdoor?tag=backpacks",
        ("outdoor",),
        ("hiking", "backpacks", "travel"),
    ),
    DemoAd(
        "books-cooking",
        "Cook from the book",
        "New recipe collections for every season.",
        "/c/books?tag=cooking",
        ("books", "kitchen"),
        ("books", "cooking", "recipes"),
    ),
    DemoAd(
        "books-mystery",
        "A mystery for the weekend",
        "Page-turners and travel journals.",
        "/c/books?tag=fiction",
        ("books",),
        ("fiction", "mystery", "journals"),
        110,
    ),
    DemoAd(
        "toys-games",
        "Family game night",
        "Board games and puzzles the whole family plays.",
        "/c/toys?tag=family",
        ("toys",),
        ("board-games", "puzzles", "family", "games"),
        110,
    ),
    DemoAd(
        "toys-stem",
        "Build, learn, play",
        "Wooden and construction toys that teach.",
        "/c/toys?tag=stem",
        ("toys",),
        ("wooden", "construction", "stem", "kids"),
    ),
    DemoAd(
        "beauty-skin",
        "Kind to your skin",
        "Vegan moisturisers and plastic-free haircare.",
        "/c/beauty?tag=vegan",
        ("beauty",),
        ("skincare", "vegan", "plastic-free"),
        110,
    ),
    DemoAd(
        "beauty-bath",
        "Time to unwind",
        "Natural bath and grooming essentials.",
        "/c/beauty?tag=bath",
        ("beauty",),
        ("bath", "relaxation", "grooming", "natural"),
    ),
    DemoAd(
        "sports-yoga",
        "Find your flow",
        "Non-slip yoga mats and home-gym weights.",
        "/c/sports?tag=yoga",
        ("sports",),
        ("yoga", "fitness", "weights", "home-gym"),
        110,
    ),
    DemoAd(
        "sports-court",
        "Own the court",
        "Tennis rackets and breathable cycling kit.",
        "/c/sports?tag=tennis",
        ("sports",),
        ("tennis", "cycling", "rackets"),
    ),
    DemoAd(
        "generic-shipping",
        "Fair shipping, capped",
        "Each extra piece ships for less than the first, and no order pays more than its zone's cap.",
        "/search?sort=price_asc",
        (),
        (),
        200,
    ),
    DemoAd("generic-new", "New this week", "Fresh arrivals across every category.", "/search?sort=newest", (), (), 100),
)


async def seed_ads(session: AsyncSession, events: Outbox) -> int:
    """Insert the missing demo ads in ``session`` (the caller commits); returns how many."""
    present = await AdRepository(session).existing_ids([ad.id for ad in DEMO_ADS])
    service = AdsService(session, events=events)
    inserted = 0
    for demo in DEMO_ADS:
        if demo.id in present:
            continue
        data = AdCreate(
            title=demo.title,
            text=demo.text,
            url=demo.url,
            categories=list(demo.categories),
            keywords=list(demo.keywords),
            weight=demo.weight,
        )
        await service.create(data, ad_id=demo.id)
        inserted += 1
    return inserted


async def seed(context: ServiceContext) -> int:
    """The spec's seed hook: one transaction, committed only if every ad was inserted."""
    async with unit_of_work(context) as session:
        return await seed_ads(session, context.outbox)
