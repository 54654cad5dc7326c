"""Choosing ads for a page: words normalised and stemmed, then ranked. Pure functions, no I/O.

A page is described by its category slug and a few keywords (the product's tags, words of its
name). An ad lists the category slugs it targets and its own keywords. Both sides go through
:func:`stems`: lower-cased, split on anything that is not a letter or digit (so ``board-games``
is ``board`` + ``game``), and reduced by a deliberately small English stemmer (plurals, ``-ing``,
``-ed``), so ``boots`` on a page meets ``boot`` on an ad.

Ranking (:func:`rank`): an ad is *relevant* when the page's category is one of its categories or
when at least one stem is shared. Relevant ads sort by score (a category match counts as
:data:`CATEGORY_POINTS` shared keywords, so a same-category ad beats one that merely shares a
word), then weight, then id (stable). A page that nothing matches gets the *generic* ads (those
with no categories) by weight, so a product page always has an ad when any generic one exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: A category match is worth this many shared keywords.
CATEGORY_POINTS = 2

_SPLIT = re.compile(r"[^0-9a-z]+")
_KEYWORD_SEPARATORS = re.compile(r"[\s,]+")


def stem(word: str) -> str:
    """A small, predictable suffix stripper (not Porter): enough for plurals and -ing/-ed forms."""
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, replacement, minimum in (
        ("ies", "y", 5),
        ("sses", "ss", 5),
        ("ches", "ch", 5),
        ("shes", "sh", 5),
        ("xes", "x", 4),
        ("ing", "", 6),
        ("ed", "", 5),
    ):
        if word.endswith(suffix) and len(word) >= minimum:
            base = word[: -len(suffix)] + replacement
            if suffix in ("ing", "ed") and len(base) > 2 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]  # running -> run, shipped -> ship; but spelling, dressed keep theirs
            return base
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def stems(words: Iterable[str]) -> frozenset[str]:
    """Every stem of every word (each word may hold several: ``usb-c`` -> ``usb``, ``c``)."""
    found: set[str] = set()
    for word in words:
        for part in _SPLIT.split(word.lower()):
            if part:
                found.add(stem(part))
    return frozenset(found)


def split_keywords(text: str) -> list[str]:
    """The keywords of a query string: separated by blanks and/or commas, empty parts dropped."""
    return [part for part in _KEYWORD_SEPARATORS.split(text.strip()) if part]


@dataclass(frozen=True)
class Candidate:
    """What ranking needs to know about one servable ad."""

    id: str
    categories: frozenset[str]
    keywords: frozenset[str]  # stems
    weight: int

    @property
    def generic(self) -> bool:
        return not self.categories


@dataclass(frozen=True)
class Choice:
    id: str
    reason: str
    score: int


def rank(
    candidates: Sequence[Candidate], *, category: str | None, keywords: frozenset[str], limit: int
) -> list[Choice]:
    """The ``limit`` best ads for a page (see the module docstring); generic ones only as fallback."""
    relevant: list[tuple[int, int, str, str]] = []
    for ad in candidates:
        in_category = category is not None and category in ad.categories
        shared = len(ad.keywords & keywords)
        if not in_category and not shared:
            continue
        reason = "category_and_keywords" if in_category and shared else "category" if in_category else "keywords"
        score = shared + (CATEGORY_POINTS if in_category else 0)
        relevant.append((score, ad.weight, ad.id, reason))
    if relevant:
        relevant.sort(key=lambda row: (-row[0], -row[1], row[2]))
        return [Choice(id=ad_id, reason=reason, score=score) for score, _, ad_id, reason in relevant[:limit]]
    generic = sorted((ad for ad in candidates if ad.generic), key=lambda ad: (-ad.weight, ad.id))
    return [Choice(id=ad.id, reason="generic", score=0) for ad in generic[:limit]]
