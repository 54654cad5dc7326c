"""Catalog tables, per-dialect full-text search, and the messaging tables.

Revision ID: 0001_catalog
Revises:
Create Date: 2026-11-21

Full text, one branch per database (see ``agora.services.catalog.search`` for the queries):

* SQLite: an FTS5 table ``products_fts`` (porter stemming, diacritics folded) kept in step with
  ``products`` by three triggers, so every writer (ORM, raw SQL, a future bulk import) keeps
  the index right inside its own transaction;
* PostgreSQL: a stored generated ``tsvector`` column (name weighted A, tags B, description C)
  with a GIN index;
* MariaDB/MySQL: two InnoDB FULLTEXT indexes, one over the name alone (to weight name hits
  higher) and one over the whole document.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from agora.platform.messaging import migrations as messaging_migrations

revision = "0001_catalog"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types of this revision (models.py may evolve; this may not).
Timestamp = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

SQLITE_FTS = [
    """
    CREATE VIRTUAL TABLE products_fts USING fts5(
        product_id UNINDEXED, name, description, tags,
        tokenize = 'porter unicode61 remove_diacritics 2'
    )
    """,
    """
    CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN
        INSERT INTO products_fts (product_id, name, description, tags)
        VALUES (new.id, new.name, new.description, new.tags_text);
    END
    """,
    """
    CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN
        DELETE FROM products_fts WHERE product_id = old.id;
    END
    """,
    """
    CREATE TRIGGER products_fts_update AFTER UPDATE OF name, description, tags_text ON products BEGIN
        DELETE FROM products_fts WHERE product_id = old.id;
        INSERT INTO products_fts (product_id, name, description, tags)
        VALUES (new.id, new.name, new.description, new.tags_text);
    END
    """,
]

POSTGRES_FTS = [
    """
    ALTER TABLE products ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, coalesce(name, '')), 'A')
        || setweight(to_tsvector('english'::regconfig, coalesce(tags_text, '')), 'B')
        || setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'C')
    ) STORED
    """,
    "CREATE INDEX ix_products_search_vector ON products USING gin (search_vector)",
]

MYSQL_FTS = [
    "CREATE FULLTEXT INDEX ft_products_name ON products (name)",
    "CREATE FULLTEXT INDEX ft_products_document ON products (name, description, tags_text)",
]


def upgrade() -> None:
    op.create_table(
        "categories",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_categories"),
        sa.UniqueConstraint("slug", name="uq_categories_slug"),
    )
    op.create_table(
        "products",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("price_amount", sa.Integer(), nullable=False),
        sa.Column("price_currency", sa.String(3), nullable=False),
        sa.Column("category_id", sa.String(36), nullable=False),
        sa.Column("tags_text", sa.String(820), nullable=False),
        sa.Column("images", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_products"),
        sa.UniqueConstraint("sku", name="uq_products_sku"),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name="fk_products_category_id_categories",
            ondelete="RESTRICT",
        ),
    )
    op.create_index("ix_products_active_created", "products", ["active", "created_at", "id"])
    op.create_index("ix_products_active_price", "products", ["active", "price_amount", "id"])
    op.create_index("ix_products_active_name", "products", ["active", "name", "id"])
    op.create_index("ix_products_category_active", "products", ["category_id", "active"])
    op.create_table(
        "product_tags",
        sa.Column("product_id", sa.String(36), nullable=False),
        sa.Column("tag", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("product_id", "tag", name="pk_product_tags"),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name="fk_product_tags_product_id_products",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_product_tags_tag", "product_tags", ["tag", "product_id"])

    dialect = op.get_bind().dialect.name
    statements = {"sqlite": SQLITE_FTS, "postgresql": POSTGRES_FTS, "mysql": MYSQL_FTS, "mariadb": MYSQL_FTS}
    for statement in statements.get(dialect, []):
        op.execute(statement)

    messaging_migrations.upgrade(op)


def downgrade() -> None:
    messaging_migrations.downgrade(op)

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("products_fts_insert", "products_fts_delete", "products_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS products_fts")
    op.drop_index("ix_product_tags_tag", table_name="product_tags")
    op.drop_table("product_tags")
    # the GIN index, the generated column and the FULLTEXT indexes go with the table
    op.drop_table("products")
    op.drop_table("categories")
