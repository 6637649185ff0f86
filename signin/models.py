"""A dashboard session: a signed-in admin key or restaurant PAT, kept on the server.

Only the SHA-256 of the session token is stored (the token lives in the browser's
cookie), and the session points at its credential: revoking or expiring the credential
ends its sessions at their next request, and deleting it deletes them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, BigId
from store.timeutil import utcnow


class DashboardSession(Base):
    __tablename__ = "dashboard_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Exactly one of the two: who signed in.
    api_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), index=True
    )
    pat_id: Mapped[int | None] = mapped_column(
        ForeignKey("personal_access_tokens.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Moved at most once a minute; a session idle for 12 hours is over.
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
