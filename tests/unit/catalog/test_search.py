"""Search input sanitising: user text never changes the structure of a full-text query."""

from __future__ import annotations

import re
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agora.services.catalog.search import (
    INNODB_STOPWORDS,
    MAX_TERM_LENGTH,
    MAX_TERMS,
    fts5_query,
    innodb_query,
    terms,
    tsquery,
)

NASTY = [
    'boot" OR "1"="1',
    "NEAR(boot shoe, 2)",
    "boot AND NOT shoe",
    "-boot +shoe ~x <y >z @3",
    "name:boot",
    "^boot*",
    "'; DROP TABLE products; --",
    "<script>alert(1)</script>",
    "boot & shoe | !sock <-> x:*",
    '"unterminated',
    "(((",
    "\\",
    "a" * 500,
    "\uff42\uff4f\uff4f\uff54",  # full-width "boot": NFKC makes it ascii
    "Straße CAFÉ",
]


def test_terms_keep_only_words_casefolded_and_normalised() -> None:
    assert terms('Leather "Boots"!! (waterproof)') == ["leather", "boots", "waterproof"]
    assert terms("\uff42\uff4f\uff4f\uff54") == ["boot"]
    assert terms("Straße") == ["strasse"]
    assert terms("boot boot BOOT") == ["boot"]
    assert terms("!!! ___ ***") == []
    assert terms("snake_case") == ["snake_case"]


def test_terms_are_bounded() -> None:
    many = " ".join(f"word{i}" for i in range(50))
    assert len(terms(many)) == MAX_TERMS
    assert len(terms("x" * 1000)[0]) == MAX_TERM_LENGTH


def test_fts5_query_quotes_every_term_and_prefixes_the_last() -> None:
    assert fts5_query(["leather", "boot"]) == '"leather" "boot"*'
    assert fts5_query(terms("boot AND NOT shoe")) == '"boot" "and" "not" "shoe"*'


def test_tsquery_is_a_conjunction_of_plain_words() -> None:
    assert tsquery(["leather", "boot"]) == "leather & boot:*"
    for text in NASTY:
        query = tsquery(terms(text))
        assert re.fullmatch(r"[\w &:*]*", query), query
        assert "|" not in query and "!" not in query and "'" not in query


def test_innodb_query_requires_indexable_words_and_sets_aside_the_rest() -> None:
    expression, leftover = innodb_query(["the", "tv", "leather", "boot"])
    assert expression == "+leather* +boot*"
    assert leftover == ["the", "tv"]
    assert "the" in INNODB_STOPWORDS
    for text in NASTY:
        expression, _ = innodb_query(terms(text))
        assert re.fullmatch(r"[\w +*]*", expression), expression


@pytest.fixture(scope="module")
def fts5() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    connection.execute(
        "CREATE VIRTUAL TABLE docs USING fts5(name, body, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    connection.executemany(
        "INSERT INTO docs (name, body) VALUES (?, ?)",
        [("Leather hiking boots", "waterproof"), ("Running shoe", "mesh"), ("NEAR and NOT", "words")],
    )
    return connection


@pytest.mark.parametrize("text", NASTY)
def test_nasty_input_is_valid_fts5(fts5: sqlite3.Connection, text: str) -> None:
    words = terms(text)
    if words:
        fts5.execute("SELECT name FROM docs WHERE docs MATCH ?", (fts5_query(words),)).fetchall()


def test_operators_typed_by_users_are_searched_as_words(fts5: sqlite3.Connection) -> None:
    rows = fts5.execute("SELECT name FROM docs WHERE docs MATCH ?", (fts5_query(terms("near NOT")),)).fetchall()
    assert rows == [("NEAR and NOT",)]
    # prefix on the last word, stemming on the others
    rows = fts5.execute("SELECT name FROM docs WHERE docs MATCH ?", (fts5_query(terms("leather boo")),)).fetchall()
    assert rows == [("Leather hiking boots",)]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_any_text_makes_a_valid_fts5_query(fts5: sqlite3.Connection, text: str) -> None:
    words = terms(text)
    if words:
        fts5.execute("SELECT count(*) FROM docs WHERE docs MATCH ?", (fts5_query(words),)).fetchone()
