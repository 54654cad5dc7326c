"""Full-text search, one implementation per database, behind one function.

User input never reaches a query language as written. :func:`terms` keeps only runs of word
characters (letters, digits, underscore; NFKC-normalised, case-folded), so every operator of
FTS5 (``" * ^ : ( ) - + NEAR AND OR NOT``), of ``to_tsquery`` (``& | ! ( ) : * ' <->``) and of
InnoDB boolean mode (``+ - < > ( ) ~ * " @``) is gone before a query is built, and each dialect
then builds its query from those terms only:

* SQLite FTS5: every term is a quoted string (``"term"``; a quote inside would be doubled), so
  ``AND``/``NEAR`` typed by a user are words, not operators;
* PostgreSQL: ``to_tsquery('english', 'term & term:*')``; terms contain no tsquery syntax;
* MariaDB: ``+term*`` in boolean mode; terms InnoDB would not index (shorter than its minimum
  token size, or stopwords) would silently match nothing, so they become ``LIKE`` conditions
  (escaped) instead.

Every dialect requires all terms (AND) and treats the last as a prefix (search-as-you-type).
Results come ranked: FTS5's ``bm25`` with name weighted over tags over description, PostgreSQL's
``ts_rank_cd`` over a vector weighted the same way, and on MariaDB the name index's score
counted three times plus the whole document's.

On SQLite a relevance page can stop ranking early (:func:`fts5_best_matches`): the FTS table
ranks its matches by itself (ties by its own row id) and only its best few ids are looked up in
``products``, so a common word costs the same page on a catalog of any size instead of one
product lookup per match; the repository goes to the whole match set when those rows do not
fill the page (filters or visibility dropped too many). PostgreSQL ranks from the stored ``search_vector``
column that its GIN index serves, in the products table itself, so there is no join to narrow.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnClause, ColumnElement, FromClause, Select, and_, func, literal_column, or_, select, table
from sqlalchemy import column as sql_column
from sqlalchemy.dialects import mysql

from agora.services.catalog.models import Product

MAX_TERMS = 12
MAX_TERM_LENGTH = 64

_WORD = re.compile(r"\w+")

#: InnoDB's default full-text stopword list (INFORMATION_SCHEMA.INNODB_FT_DEFAULT_STOPWORD).
INNODB_STOPWORDS = frozenset(
    "a about an are as at be by com de en for from how i in is it la of on or that the this to "
    "was what when where who will with und www".split()
)
INNODB_MIN_TOKEN = 3


def terms(query: str) -> list[str]:
    """The searchable words of ``query``: at most :data:`MAX_TERMS`, each at most :data:`MAX_TERM_LENGTH`."""
    normalized = unicodedata.normalize("NFKC", query).casefold()
    words: list[str] = []
    for match in _WORD.finditer(normalized):
        word = match.group()[:MAX_TERM_LENGTH].strip("_")
        if word and word not in words:
            words.append(word)
        if len(words) == MAX_TERMS:
            break
    return words


def fts5_query(words: list[str]) -> str:
    """An FTS5 MATCH expression: every word a quoted string, the last one a prefix."""
    quoted = ['"' + word.replace('"', '""') + '"' for word in words]
    if quoted:
        quoted[-1] += "*"
    return " ".join(quoted)


def tsquery(words: list[str]) -> str:
    """A ``to_tsquery`` expression: the words joined by ``&``, the last one a prefix."""
    parts = list(words)
    if parts:
        parts[-1] += ":*"
    return " & ".join(parts)


def innodb_query(words: list[str]) -> tuple[str, list[str]]:
    """The InnoDB boolean-mode expression, and the words it cannot carry (matched with LIKE)."""
    indexed = [w for w in words if len(w) >= INNODB_MIN_TOKEN and w not in INNODB_STOPWORDS]
    leftover = [w for w in words if w not in indexed]
    return " ".join(f"+{word}*" for word in indexed), leftover


@dataclass(frozen=True)
class SearchClause:
    """What a product query needs to search: a condition, an optional source to join, a rank.

    ``rank`` sorts best-first when ordered ascending (dialects that score higher-is-better are
    negated), so the caller orders the same way on every database; it is None when nothing
    scores the rows (MariaDB, when every word had to be matched with LIKE).
    """

    condition: ColumnElement[bool]
    rank: ColumnElement[float] | None
    join: FromClause | None = None
    join_on: ColumnElement[bool] | None = None
    #: ordered after ``rank``, before the product id (SQLite: as :func:`fts5_best_matches` does)
    tiebreak: ColumnElement[Any] | None = None


_FTS = table("products_fts", sql_column("product_id"), sql_column("rowid"))
#: the FTS5 table's own name as a column: what bm25() and MATCH take (no SQL type)
_FTS_NAME: ColumnClause[Any] = literal_column("products_fts")


def _fts5_hits(words: list[str]) -> Select[Any]:
    # bm25 weights per column: product_id (unindexed), name, description, tags
    rank = func.bm25(_FTS_NAME, 0.0, 10.0, 1.0, 4.0)
    return (
        select(_FTS.c.product_id.label("product_id"), _FTS.c.rowid.label("fts_rowid"), rank.label("fts_rank"))
        .select_from(_FTS)
        .where(_FTS_NAME.op("MATCH")(fts5_query(words)))
    )


def fts5_best_matches(words: list[str], window: int) -> Select[Any]:
    """SQLite: the best ``window`` matches as (product_id, fts_rowid, fts_rank), best first.

    Ranked in the FTS table alone, in the order a relevance page uses (rank, then the FTS row's
    id, which the index holds: ordering by product_id, an unindexed column kept in the FTS
    table's content, read it for every match, ~4x the ranking's own cost for a common word).
    Any match left out ranks after every one returned.
    """
    return _fts5_hits(words).order_by(literal_column("fts_rank"), literal_column("fts_rowid")).limit(window)


def _sqlite(words: list[str]) -> SearchClause:
    matches = _fts5_hits(words).subquery("fts_hits")
    return SearchClause(
        condition=literal_column("1") == 1,
        rank=matches.c.fts_rank,
        join=matches,
        join_on=matches.c.product_id == Product.id,
        tiebreak=matches.c.fts_rowid,
    )


def _postgresql(words: list[str]) -> SearchClause:
    query = func.to_tsquery(literal_column("'english'::regconfig"), tsquery(words))
    vector: ColumnClause[Any] = literal_column("products.search_vector")
    return SearchClause(condition=vector.op("@@")(query), rank=-func.ts_rank_cd(vector, query))


def _mysql(words: list[str]) -> SearchClause:
    expression, leftover = innodb_query(words)
    conditions: list[ColumnElement[bool]] = []
    rank: ColumnElement[float] | None = None
    if expression:
        # match() takes column expressions, not the mapped attributes
        name, description, tags = Product.name.expression, Product.description.expression, Product.tags_text.expression
        document = mysql.match(name, description, tags, against=expression).in_boolean_mode()
        name_only = mysql.match(name, against=expression).in_boolean_mode()
        conditions.append(document)
        rank = -(name_only * 3 + document)
    for word in leftover:
        conditions.append(
            or_(
                Product.name.contains(word, autoescape=True),
                Product.tags_text.contains(word, autoescape=True),
                Product.description.contains(word, autoescape=True),
            )
        )
    return SearchClause(condition=and_(*conditions), rank=rank)


def search_clause(dialect: str, words: list[str]) -> SearchClause:
    """The search for ``words`` (non-empty, from :func:`terms`) on ``dialect``."""
    if not words:
        raise ValueError("search_clause needs at least one word")
    if dialect == "sqlite":
        return _sqlite(words)
    if dialect == "postgresql":
        return _postgresql(words)
    if dialect in ("mysql", "mariadb"):
        return _mysql(words)
    raise ValueError(f"no full-text search for dialect {dialect!r}")
