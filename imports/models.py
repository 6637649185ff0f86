"""Imported orders, the state of each import (durable, so a retry resumes), and the order
aggregates per restaurant and UTC hour that insights read.

Money is kept in integer minor units of its currency (`catalog.prices.minor_units`): sums
are exact and the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base
from store.timeutil import utcnow

# What an order's branch is stored as when the POS names none (a key cannot hold NULL).
NO_BRANCH = ""


class Order(Base):
    """One order of a restaurant's POS history, upserted by (restaurant, order id).

    `items` holds the lines as `[product id, name, quantity, unit price in minor units]`.
    """

    __tablename__ = "orders"
    __table_args__ = (Index(None, "restaurant_id", "created_at"),)

    restaurant_id: Mapped[str] = mapped_column(
        ForeignKey("restaurants.id", ondelete="CASCADE"), primary_key=True
    )
    order_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    created_at: Mapped[dt.datetime]
    # The UTC hour and UTC day of `created_at`: the keys of the aggregates it feeds.
    hour: Mapped[dt.datetime]
    day: Mapped[dt.date] = mapped_column(Date)
    branch_id: Mapped[str] = mapped_column(String(128), default=NO_BRANCH)
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    customer_ref: Mapped[str | None] = mapped_column(String(128))
    items: Mapped[list[Any]] = mapped_column(JSON)
    # The import that stored it last (its result counts the orders it stored).
    import_job_id: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OrderImport(Base):
    """One import job's period and outcome; its id is the job's (the Dramatiq message id)."""

    __tablename__ = "order_imports"
    __table_args__ = (Index(None, "restaurant_id", "status"),)

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    restaurant_id: Mapped[str] = mapped_column(ForeignKey("restaurants.id", ondelete="CASCADE"))
    days: Mapped[int] = mapped_column(Integer)
    since: Mapped[dt.datetime]
    until: Mapped[dt.datetime]
    # running | succeeded | failed | dead
    status: Mapped[str] = mapped_column(String(16), default="running")
    orders: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]


class OrderImportChunk(Base):
    """One day of an import: where its pages stand, committed with each page's orders."""

    __tablename__ = "order_import_chunks"

    job_id: Mapped[str] = mapped_column(
        ForeignKey("order_imports.job_id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1 = the oldest day
    since: Mapped[dt.datetime]
    until: Mapped[dt.datetime]
    # The URL of the next page to read; NULL before the first page and once done.
    next_url: Mapped[str | None] = mapped_column(Text)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    orders: Mapped[int] = mapped_column(Integer, default=0)
    # Orders this day is expected to hold, estimated from its first page.
    estimate: Mapped[int | None] = mapped_column(Integer)
    done: Mapped[bool] = mapped_column(Boolean, default=False)


class OrderHour(Base):
    """Orders and revenue of one restaurant, UTC hour and currency (totals and heatmap)."""

    __tablename__ = "order_hours"
    __table_args__ = (
        # Covering: a year of hours is read from the index alone.
        Index(
            "ix_order_hours_cover", "restaurant_id", "hour", "currency", "orders", "revenue_minor"
        ),
    )

    restaurant_id: Mapped[str] = mapped_column(
        ForeignKey("restaurants.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[dt.datetime] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    orders: Mapped[int] = mapped_column(Integer)
    revenue_minor: Mapped[int] = mapped_column(BigInteger)


# Items, branches and customers are kept per UTC hour and, for long periods, per UTC day:
# a period reads whole days from the daily rows and its first and last hours from the
# hourly ones. The daily tables have covering indexes, so a year is read from them alone.


class OrderItemHour(Base):
    """Quantity and revenue of one product sold in one restaurant, UTC hour and currency."""

    __tablename__ = "order_item_hours"

    restaurant_id: Mapped[str] = mapped_column(
        ForeignKey("restaurants.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[dt.datetime] = mapped_column(primary_key=True)
    product_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    revenue_minor: Mapped[int] = mapped_column(BigInteger)


class OrderItemDay(Base):
    """Quantity and revenue of one product sold in one restaurant, UTC day and currency."""

    __tablename__ = "order_item_days"
    __table_args__ = (
        Index(
            "ix_order_item_days_cover",
            "restaurant_id",
            "day",
            "product_id",
            "currency",
            "quantity",
            "revenue_minor",
        ),
    )

    restaurant_id: Mapped[str] = mapped_column(
        ForeignKey("restaurants.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    product_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    revenue_minor: Mapped[int] = mapped_column(BigInteger)


class OrderProduct(Base):
    """A product's name as the restaurant's latest order spelled it."""

    __tablename__ = "order_products"

    restaurant_id: Mapped[str] = mapped_column(
        ForeignKey("restaurants.id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    named_at: Mapped[dt.datetime]


class OrderBranchHour(Base):
    """Orders of one restaurant's branch in one UTC hour (`branch_id` '' = none named)."""

    __tablename__ = "order_branch_hours"

    restaurant_id: Mapped[str] = mapped_column(
        ForeignKey("restaurants.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[dt.datetime] = mapped_column(primary_key=True)
    branch_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    orders: Mapped[int] = mapped_column(Integer)


class OrderBranchDay(Base):
    """Orders of one restaurant's branch in one UTC day."""

    __tablename__ = "order_branch_days"
    __table_args__ = (
        Index("ix_order_branch_days_cover", "restaurant_id", "day", "branch_id", "orders"),
    )

    restaurant_id: Mapped[str] = mapped_column(
        ForeignKey("restaurants.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    branch_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    orders: Mapped[int] = mapped_column(Integer)


class OrderCustomerHour(Base):
    """Orders of one customer (the POS's opaque `customerRef`) in one UTC hour: distinct
    and repeat customers of any period are read from these and the daily rows."""

    __tablename__ = "order_customer_hours"

    restaurant_id: Mapped[str] = mapped_column(
        ForeignKey("restaurants.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[dt.datetime] = mapped_column(primary_key=True)
    customer_ref: Mapped[str] = mapped_column(String(128), primary_key=True)
    orders: Mapped[int] = mapped_column(Integer)


class OrderCustomerDay(Base):
    """Orders of one customer in one UTC day."""

    __tablename__ = "order_customer_days"
    __table_args__ = (
        Index("ix_order_customer_days_cover", "restaurant_id", "day", "customer_ref", "orders"),
    )

    restaurant_id: Mapped[str] = mapped_column(
        ForeignKey("restaurants.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    customer_ref: Mapped[str] = mapped_column(String(128), primary_key=True)
    orders: Mapped[int] = mapped_column(Integer)
