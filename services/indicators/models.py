"""Tables of the indicators service, all in the Postgres schema ``indicators``."""

from __future__ import annotations

from sqlalchemy import Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.kit.db import declarative_base_for
from services.indicators import SCHEMA

Base = declarative_base_for(SCHEMA)


class Dimension(Base):
    """An evaluation dimension (评价维度) of the 12345 standard, spec section 6."""

    __tablename__ = "dimension"

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, unique=True)
    clause: Mapped[str] = mapped_column(Text)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
