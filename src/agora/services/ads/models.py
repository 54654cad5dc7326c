"""The ads' one table: ``ads``.

Categories and keywords are short lists kept as space-separated text (sorted, no duplicates):
selection reads every servable ad and ranks it in Python (:mod:`.matching`), so nothing needs
to filter on them in SQL, and text behaves the same on SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from agora.platform.db.types import UTCDateTime, service_metadata, utcnow

ID_LENGTH = 36
TITLE_LENGTH = 120
TEXT_LENGTH = 500
URL_LENGTH = 500
SLUG_LENGTH = 64
KEYWORD_LENGTH = 40
MAX_CATEGORIES = 20
MAX_KEYWORDS = 20
CATEGORIES_TEXT_LENGTH = MAX_CATEGORIES * (SLUG_LENGTH + 1)
KEYWORDS_TEXT_LENGTH = MAX_KEYWORDS * (KEYWORD_LENGTH + 1)


class Base(DeclarativeBase):
    metadata = service_metadata()


class Ad(Base):
    __tablename__ = "ads"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_LENGTH))
    text: Mapped[str] = mapped_column(String(TEXT_LENGTH))
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    image: Mapped[str | None] = mapped_column(String(URL_LENGTH), nullable=True)
    categories_text: Mapped[str] = mapped_column(String(CATEGORIES_TEXT_LENGTH), default="")
    keywords_text: Mapped[str] = mapped_column(String(KEYWORDS_TEXT_LENGTH), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    weight: Mapped[int] = mapped_column(Integer, default=100)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The UPDATE carries "WHERE version = <read version>": two concurrent writers cannot both win.
    version: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_ads_active", "active"),
        Index("ix_ads_created", "created_at", "id"),
    )

    @property
    def categories(self) -> list[str]:
        return self.categories_text.split() if self.categories_text else []

    @property
    def keywords(self) -> list[str]:
        return self.keywords_text.split() if self.keywords_text else []


metadata = Base.metadata
