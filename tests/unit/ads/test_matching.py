"""Stemming and ranking, without a database."""

from __future__ import annotations

import pytest

from agora.services.ads.matching import Candidate, rank, split_keywords, stem, stems


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("boots", "boot"),
        ("boot", "boot"),
        ("puzzles", "puzzle"),
        ("batteries", "battery"),
        ("glasses", "glass"),
        ("dishes", "dish"),
        ("boxes", "box"),
        ("running", "run"),
        ("shipped", "ship"),
        ("spelling", "spell"),
        ("camping", "camp"),
        ("insulated", "insulat"),
        ("glass", "glass"),
        ("cactus", "cactus"),
        ("bus", "bus"),
        ("usb", "usb"),
        ("2026", "2026"),
    ],
)
def test_stem(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_stems_lowercase_split_on_punctuation_and_meet_across_forms() -> None:
    assert stems(["Board-Games", "USB-C"]) == {"board", "game", "usb", "c"}
    assert stems(["Hiking", "BOOTS"]) & stems(["boot", "hike"]) == {"boot"}
    assert stems([]) == frozenset()


def test_split_keywords_on_blanks_and_commas() -> None:
    assert split_keywords(" running, shoes ,,trail  boots ") == ["running", "shoes", "trail", "boots"]
    assert split_keywords("  , ") == []


def ad(ad_id: str, categories: tuple[str, ...] = (), keywords: tuple[str, ...] = (), weight: int = 100) -> Candidate:
    return Candidate(id=ad_id, categories=frozenset(categories), keywords=stems(keywords), weight=weight)


CANDIDATES = [
    ad("shoes", ("footwear",), ("running", "shoes"), weight=100),
    ad("boots", ("footwear", "outdoor"), ("hiking", "boots"), weight=150),
    ad("tents", ("outdoor",), ("camping", "tents"), weight=100),
    ad("generic-low", weight=10),
    ad("generic-high", weight=90),
]


def test_category_and_keywords_beat_category_alone_then_weight_breaks_ties() -> None:
    chosen = rank(CANDIDATES, category="footwear", keywords=stems(["shoe"]), limit=5)
    assert [(c.id, c.reason) for c in chosen] == [("shoes", "category_and_keywords"), ("boots", "category")]


def test_equal_scores_order_by_weight() -> None:
    chosen = rank(CANDIDATES, category="outdoor", keywords=frozenset(), limit=5)
    assert [c.id for c in chosen] == ["boots", "tents"]


def test_keywords_alone_match_across_categories() -> None:
    chosen = rank(CANDIDATES, category="books", keywords=stems(["tent"]), limit=5)
    assert [(c.id, c.reason) for c in chosen] == [("tents", "keywords")]


def test_a_category_match_outranks_one_shared_keyword() -> None:
    chosen = rank(CANDIDATES, category="outdoor", keywords=stems(["running"]), limit=5)
    assert chosen[0].id in {"boots", "tents"} and chosen[-1].id == "shoes"


def test_no_match_falls_back_to_generic_ads_by_weight() -> None:
    chosen = rank(CANDIDATES, category="books", keywords=stems(["novel"]), limit=5)
    assert [(c.id, c.reason) for c in chosen] == [("generic-high", "generic"), ("generic-low", "generic")]
    assert rank(CANDIDATES, category=None, keywords=frozenset(), limit=1)[0].id == "generic-high"


def test_limit_and_nothing_at_all() -> None:
    assert len(rank(CANDIDATES, category="footwear", keywords=frozenset(), limit=1)) == 1
    assert rank([ad("only", ("toys",))], category="books", keywords=frozenset(), limit=3) == []
