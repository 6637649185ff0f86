"""The conversation flow (SPEC §6): what a customer's message asks for, and the reply text.

`read_intent` turns a message into an intent; `decide` turns it into a reply, given the last
list shown; `compose` renders a reply from catalog data, or returns None when the data is
not cached yet (the webhook then hands the reply to a worker, which composes it with
`compose` again, this time loading through the cache).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot import texts
from catalog.prices import format_price

MAX_WHATSAPP_BODY = 1600

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_NUMBER = re.compile(r"^#?\s*(\d{1,4})\s*[.)]?$")

STOP_WORDS = {"stop", "unsubscribe", "إيقاف", "ايقاف"}
START_WORDS = {"start", "ابدأ", "ابدا", "إبدأ"}
MENU_WORDS = {"menu", "القائمة", "قائمة", "منيو", "المنيو", "قائمة الطعام"}
BRANCH_WORDS = {"branches", "branch", "الفروع", "فروع", "فرع", "الفرع"}
# Asking for help, or greeting, is understood; any other text that gets the help was not
# (the conversation's `unrecognised_text` event, SPEC §12).
HELP_WORDS = {"help", "مساعدة", "مساعده", "ساعدني"}
GREETINGS = {
    "hi", "hello", "hey", "hi there", "hello there", "good morning", "good evening",
    "مرحبا", "مرحباً", "اهلا", "أهلا", "هلا", "السلام عليكم", "سلام", "صباح الخير", "مساء الخير",
}  # fmt: skip
MENU_BUTTON, BRANCHES_BUTTON = "MENU", "BRANCHES"

# Last-list markers kept on the conversation.
CATEGORIES, BRANCHES, HELP = "categories", "branches", "help"
# What each number of the help list (`texts.HELP`) asks for, in its order.
HELP_OPTIONS = (CATEGORIES, BRANCHES)


@dataclass(frozen=True)
class Intent:
    """What a message asks for: stop, start, menu, branches, a number, or help."""

    kind: str
    number: int | None = None


def normalize(text: str) -> str:
    """Return `text` trimmed, case-folded, with Arabic-Indic digits as ASCII digits."""
    text = unicodedata.normalize("NFKC", text).translate(_DIGITS)
    text = text.replace("\u0640", "")  # tatweel, the Arabic elongation mark
    return " ".join(text.split()).casefold().strip(" .!؟?،,")


def read_intent(body: str | None, button_payload: str | None = None) -> Intent:
    """Return the intent of a message (`help` for anything unrecognised or empty)."""
    payload = (button_payload or "").strip().upper()
    if payload == MENU_BUTTON:
        return Intent("menu")
    if payload == BRANCHES_BUTTON:
        return Intent("branches")
    text = normalize(body or "")
    if not text:
        return Intent("help")
    if text in STOP_WORDS:
        return Intent("stop")
    if text in START_WORDS:
        return Intent("start")
    if text in MENU_WORDS:
        return Intent("menu")
    if text in BRANCH_WORDS:
        return Intent("branches")
    match = _NUMBER.match(text)
    if match:
        return Intent("number", int(match.group(1)))
    return Intent("help")


def unrecognised(intent: Intent, body: str | None) -> bool:
    """Return True when `body` is text the flow did not understand (it gets the help)."""
    if intent.kind != "help":
        return False
    text = normalize(body or "")
    return bool(text) and text not in HELP_WORDS and text not in GREETINGS


def decide(intent: Intent, last_list: str | None) -> tuple[str, str | None]:
    """Return (reply key, last list after it) for a flow intent.

    Reply keys: `help`, `categories`, `branches`, `category:N`, `branch:N`, and `help:N`
    (a number out of range of the help list). The help list is a list like the others: a
    number right after it answers it, whatever list was shown before.
    """
    if intent.kind == "menu":
        return CATEGORIES, CATEGORIES
    if intent.kind == "branches":
        return BRANCHES, BRANCHES
    if intent.kind == "number" and intent.number is not None:
        if last_list == CATEGORIES:
            return f"category:{intent.number}", CATEGORIES
        if last_list == BRANCHES:
            return f"branch:{intent.number}", BRANCHES
        # After the help list, or with no list shown: 1 means menu, 2 branches.
        if 1 <= intent.number <= len(HELP_OPTIONS):
            chosen = HELP_OPTIONS[intent.number - 1]
            return chosen, chosen
        if last_list == HELP:
            return f"help:{intent.number}", HELP
    return "help", HELP


class CatalogView(Protocol):
    """Catalog data for composing replies; a method returns None when it cannot answer now."""

    def categories(self, merchant_id: str) -> list[dict[str, Any]] | None: ...

    def branches(self, merchant_id: str) -> list[dict[str, Any]] | None: ...

    def products(self, merchant_id: str, category_id: str) -> list[dict[str, Any]] | None: ...


@dataclass(frozen=True)
class Composed:
    """A reply ready to send: its parts, the branch the customer picked (if any), and what
    it showed (`categories`, `category`, `branches`, `branch`, `unknown_option`, `help`)
    with the category opened, for the conversation's events."""

    parts: list[str]
    branch_id: str | None = None
    shown: str = ""
    category_id: str | None = None


def compose(reply: str, merchant_id: str, catalog: CatalogView) -> Composed | None:
    """Render `reply`; None when the catalog data it needs is not available from `catalog`."""
    if reply == "help":
        return Composed(split(texts.HELP), shown="help")
    kind, _, number_text = reply.partition(":")
    if kind == "help":
        number = int(number_text)
        if 1 <= number <= len(HELP_OPTIONS):
            return compose(HELP_OPTIONS[number - 1], merchant_id, catalog)
        return Composed(split(texts.UNKNOWN_OPTION + "\n" + texts.HELP), shown="unknown_option")
    if kind == CATEGORIES:
        categories = catalog.categories(merchant_id)
        if categories is None:
            return None
        return Composed(split(category_list(categories)), shown=CATEGORIES)
    if kind == BRANCHES:
        branches = catalog.branches(merchant_id)
        if branches is None:
            return None
        return Composed(split(branch_list(branches)), shown=BRANCHES)
    number = int(number_text)
    if kind == "category":
        categories = catalog.categories(merchant_id)
        if categories is None:
            return None
        if not 1 <= number <= len(categories):
            listed = category_list(categories)
            return Composed(split(texts.UNKNOWN_OPTION + "\n" + listed), shown="unknown_option")
        category = categories[number - 1]
        products = catalog.products(merchant_id, str(category["id"]))
        if products is None:
            return None
        parts = split(product_list(category, products))
        return Composed(parts, shown="category", category_id=str(category["id"]))
    if kind == "branch":
        branches = catalog.branches(merchant_id)
        if branches is None:
            return None
        if not 1 <= number <= len(branches):
            listed = branch_list(branches)
            return Composed(split(texts.UNKNOWN_OPTION + "\n" + listed), shown="unknown_option")
        branch = branches[number - 1]
        parts = split(branch_details(branch))
        return Composed(parts, branch_id=str(branch.get("id")), shown="branch")
    raise ValueError(f"unknown reply {reply!r}")


def category_list(categories: Sequence[dict[str, Any]]) -> str:
    """Return the numbered category list, in catalog order."""
    if not categories:
        return texts.EMPTY_MENU
    lines = [f"{i}. {c.get('name', '')}" for i, c in enumerate(categories, 1)]
    return texts.MENU_HEADER + "\n" + "\n".join(lines) + "\n" + texts.MENU_FOOTER


def product_list(category: dict[str, Any], products: Sequence[dict[str, Any]]) -> str:
    """Return a category's items, one a line with its price (`25.50 SAR`)."""
    lines = [f"{p.get('name', '')} - {_price(p)}" for p in products]
    body = "\n".join(lines) if lines else texts.EMPTY_CATEGORY
    return f"{category.get('name', '')}\n{body}"


def _price(product: dict[str, Any]) -> str:
    try:
        return format_price(product.get("price"), product.get("currency"))  # type: ignore[arg-type]
    except ValueError:
        return texts.PRICE_ON_REQUEST


def branch_list(branches: Sequence[dict[str, Any]]) -> str:
    """Return the numbered branch list: name, address, hours."""
    if not branches:
        return texts.NO_BRANCHES
    lines = [
        f"{i}. {b.get('name', '')} - {b.get('address', '')} ({b.get('hours', '')})"
        for i, b in enumerate(branches, 1)
    ]
    return texts.BRANCHES_HEADER + "\n" + "\n".join(lines) + "\n" + texts.BRANCHES_FOOTER


def branch_details(branch: dict[str, Any]) -> str:
    """Return one branch's details, confirming it as the customer's branch."""
    lines = [str(branch.get("name", "")), str(branch.get("address", ""))]
    if branch.get("hours"):
        lines.append(str(branch["hours"]))
    if branch.get("phone"):
        lines.append(str(branch["phone"]))
    return "\n".join(lines) + "\n" + texts.BRANCH_CHOSEN


def split(text: str, limit: int = MAX_WHATSAPP_BODY) -> list[str]:
    """Split `text` into WhatsApp-sized parts at line breaks (a huge line is cut hard)."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current or not parts:
        parts.append(current)
    return parts
