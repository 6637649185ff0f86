"""The inbound hot path's SQL, built once per dialect with bound parameters.

Building and ORM-executing a fresh Core statement costs several times more than the
database round trip on the webhook's path; these are compiled once and run on the
session's connection.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from store.dialects import upsert_for
from store.models import Conversation, Customer, Message


@cache
def statements(dialect: str) -> dict[str, Any]:
    """Build the hot path's statements once per dialect, with bound parameters."""
    upsert = upsert_for(dialect)
    now = bindparam("now", type_=Message.created_at.type)
    customer = upsert(Customer).values(
        restaurant_id=bindparam("restaurant_id"),
        address=bindparam("address"),
        profile_name=bindparam("profile_name"),
        created_at=now,
    )
    inbound = upsert(Message).values(
        sid=bindparam("sid"),
        restaurant_id=bindparam("restaurant_id"),
        conversation_id=bindparam("conversation_id"),
        customer_id=bindparam("customer_id"),
        direction="inbound",
        body=bindparam("body"),
        status=bindparam("status"),
        created_at=now,
        updated_at=now,
        send_attempts=0,
        send_timeouts=0,
    )
    return {
        # ON CONFLICT DO UPDATE also locks the customer's row until commit (PostgreSQL), so
        # two messages of one customer decide their conversation one after the other.
        "upsert_customer": customer.on_conflict_do_update(
            index_elements=[Customer.restaurant_id, Customer.address],
            set_={
                "profile_name": func.coalesce(customer.excluded.profile_name, Customer.profile_name)
            },
        ).returning(
            Customer.id,
            Customer.opted_out_at,
            Customer.current_conversation_id,
            Customer.last_accepted_at,
        ),
        "insert_inbound": inbound.on_conflict_do_nothing(index_elements=[Message.sid]).returning(
            Message.id
        ),
        "insert_conversation": insert(Conversation)
        .values(
            restaurant_id=bindparam("restaurant_id"),
            customer_id=bindparam("customer_id"),
            started_at=now,
            last_message_at=now,
            pending_replies=0,
        )
        .returning(Conversation.id),
        "select_conversation": select(
            Conversation.last_list, Conversation.branch_id, Conversation.pending_replies
        ).where(Conversation.id == bindparam("id")),
        "update_conversation": update(Conversation)
        .where(Conversation.id == bindparam("row_id"))
        .values(
            last_message_at=now,
            last_list=bindparam("last_list"),
            branch_id=bindparam("branch_id"),
            pending_replies=bindparam("pending_replies"),
        ),
        "update_customer": update(Customer)
        .where(Customer.id == bindparam("row_id"))
        .values(
            last_accepted_at=now,
            current_conversation_id=bindparam("conversation_id"),
            opted_out_at=bindparam("opted", type_=Customer.opted_out_at.type),
        ),
    }


def upsert_customer(
    connection: Connection,
    sql: dict[str, Any],
    *,
    restaurant_id: str,
    address: str,
    profile_name: str | None,
    now: dt.datetime,
) -> tuple[Any, ...]:
    """Insert or update the customer; return (id, opted_out_at, conversation, last accepted)."""
    row = connection.execute(
        sql["upsert_customer"],
        {
            "restaurant_id": restaurant_id,
            "address": address,
            "profile_name": profile_name,
            "now": now,
        },
    ).one()
    return tuple(row)


def insert_inbound(
    connection: Connection,
    sql: dict[str, Any],
    *,
    sid: str,
    restaurant_id: str,
    conversation_id: int | None,
    customer_id: int,
    body: str,
    status: str,
    now: dt.datetime,
) -> int | None:
    """Insert the inbound row unless its MessageSid exists; return its id or None."""
    row = connection.execute(
        sql["insert_inbound"],
        {
            "sid": sid,
            "restaurant_id": restaurant_id,
            "conversation_id": conversation_id,
            "customer_id": customer_id,
            "body": body,
            "status": status,
            "now": now,
        },
    ).first()
    return None if row is None else int(row[0])
