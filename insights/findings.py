"""Findings: rule-based, deterministic observations about a period (SPEC §12).

Each rule reads the period's figures (`Figures`) and returns one finding or None when the
data does not support it — too few conversations to say anything, nothing to report.
Every finding is `{"kind", "severity": "info"|"warning", "title", "text", "numbers"}`,
in English. Rates are rounded half up; ties go to the earlier weekday, hour, step, code
or text, so the same data always gives the same findings.

What each finding means for an owner, and what to do about it, is in the README
("Insights for restaurant owners").
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from bot.failure_advice import summary_of

# Below this many conversations in the period, shares and peaks say nothing.
MIN_CONVERSATIONS = 5
# A funnel step needs this many conversations before a drop after it means anything.
MIN_STEP = 5
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FUNNEL_STEPS = ("welcome", "menu", "category", "branch")
STEP_NAMES = {
    "welcome": "the welcome",
    "menu": "the menu",
    "category": "a category",
    "branch": "a branch chosen",
}

Finding = dict[str, Any]


@dataclass(frozen=True)
class Figures:
    """What the rules read: one restaurant's aggregates over a period (and the previous
    period of equal length), and its menu as cached."""

    totals: dict[str, int]
    previous: dict[str, int]
    heatmap: list[list[int]]
    funnel: dict[str, int]
    category_opens: dict[str, int]
    error_codes: dict[str, int]
    texts: list[tuple[str, int]]
    # The cached menu's categories (id, name) in menu order; None when not cached.
    menu: list[tuple[str, str | None]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def rate(part: int, whole: int, places: int = 2) -> float:
    """Return part × 100 ÷ whole, rounded half up to `places` decimals (0 for no whole)."""
    if whole <= 0:
        return 0.0
    value = Decimal(part * 100) / Decimal(whole)
    return float(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def finding(kind: str, severity: str, title: str, text: str, numbers: dict[str, Any]) -> Finding:
    """Return a finding in the API's shape."""
    return {"kind": kind, "severity": severity, "title": title, "text": text, "numbers": numbers}


def peak_hours(figures: Figures) -> Finding | None:
    """The three busiest (weekday, local hour) slots of the period."""
    total = figures.totals["conversations"]
    if total < MIN_CONVERSATIONS:
        return None
    slots = sorted(
        ((count, day, hour) for day, row in enumerate(figures.heatmap) for hour, count in
         enumerate(row) if count > 0),
        key=lambda slot: (-slot[0], slot[1], slot[2]),
    )[:3]  # fmt: skip
    in_peaks = sum(count for count, _, _ in slots)
    share = rate(in_peaks, total, 1)
    labels = [f"{WEEKDAYS[day]} {hour:02d}:00" for _, day, hour in slots]
    return finding(
        "peak_hours",
        "info",
        f"Busiest hours: {', '.join(labels)}",
        f"{share:g}% of this period's {total} conversations started in these "
        f"{len(slots)} hours of the week (restaurant time). Have staff ready and the menu "
        "up to date then; send announcements just before them.",
        {
            "conversations": total,
            "share": share,
            "slots": [
                {"weekday": day, "hour": hour, "conversations": count} for count, day, hour in slots
            ],
        },
    )


def funnel_drop(figures: Figures) -> Finding | None:
    """The biggest share of conversations lost between two funnel steps."""
    worst: tuple[float, str, str] | None = None
    for before, after in itertools.pairwise(FUNNEL_STEPS):
        reached, kept = figures.funnel[before], figures.funnel[after]
        if reached < MIN_STEP or kept >= reached:
            continue
        lost = rate(reached - kept, reached, 1)
        if worst is None or lost > worst[0]:
            worst = (lost, before, after)
    if worst is None:
        return None
    lost, before, after = worst
    reached, kept = figures.funnel[before], figures.funnel[after]
    return finding(
        "funnel_drop",
        "warning" if lost >= 50 else "info",
        f"{lost:g}% stop between {STEP_NAMES[before]} and {STEP_NAMES[after]}",
        f"{reached} conversations reached {STEP_NAMES[before]}, {kept} went on to "
        f"{STEP_NAMES[after]}: the biggest drop of the funnel "
        "(welcome → menu → category → branch chosen). " + _funnel_advice(before),
        {"from": before, "to": after, "reached": reached, "continued": kept, "dropPercent": lost},
    )


def _funnel_advice(step: str) -> str:
    if step == "welcome":
        return "Make the menu button the first thing the welcome offers."
    if step == "menu":
        return "Check that category names say what is in them, and that the list is short."
    return "Make it easier to pick a branch: fewer, clearly named branches with their hours."


def never_opened(figures: Figures) -> Finding | None:
    """Categories of the cached menu nobody opened although the menu was shown."""
    if figures.menu is None or figures.totals["menu_shown"] == 0:
        return None
    opens = figures.category_opens
    unopened = [(cid, name) for cid, name in figures.menu if opens.get(cid, 0) == 0]
    if not unopened:
        return None
    names = [name or cid for cid, name in unopened]
    listed = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    shown = figures.totals["menu_shown"]
    return finding(
        "never_opened",
        "warning" if shown >= 10 else "info",
        f"{len(unopened)} menu categor{'y' if len(unopened) == 1 else 'ies'} nobody opened",
        f"The menu was shown {shown} times and nobody opened {listed}. Rename them, move "
        "them up the list, or merge them into categories customers do open.",
        {
            "categories": len(unopened),
            "menuCategories": len(figures.menu),
            "menuShown": shown,
            "ids": [cid for cid, _ in unopened],
        },
    )


def unrecognised(figures: Figures) -> Finding | None:
    """What customers type most that the bot did not understand (typed at least twice)."""
    repeated = [(text, count) for text, count in figures.texts if count >= 2]
    if not repeated:
        return None
    quoted = ", ".join(f'"{text}" ({count})' for text, count in repeated[:5])
    return finding(
        "unrecognised",
        "info",
        f'Customers often type "{repeated[0][0]}"',
        f"The bot did not understand these texts, each typed at least twice: {quoted}. "
        "A button or menu entry for the most frequent one would answer those customers "
        "directly.",
        {
            "texts": len(repeated),
            "count": sum(count for _, count in repeated),
            "unrecognisedTexts": figures.totals["unrecognised_texts"],
        },
    )


def opt_out_rate(figures: Figures) -> Finding | None:
    """Opt-outs per 100 conversations, against the previous period of equal length."""
    conversations, opt_outs = figures.totals["conversations"], figures.totals["opt_outs"]
    before_conversations = figures.previous["conversations"]
    before_opt_outs = figures.previous["opt_outs"]
    if conversations == 0 or (opt_outs == 0 and before_opt_outs == 0):
        return None
    now_rate = rate(opt_outs, conversations)
    before_rate = rate(before_opt_outs, before_conversations) if before_conversations else None
    if before_rate is None:
        comparison = "the previous period had no conversations to compare with"
        worse = now_rate >= 5
    else:
        comparison = f"{before_rate:g} in the previous period of equal length"
        worse = now_rate > before_rate
    return finding(
        "opt_out_rate",
        "warning" if worse else "info",
        f"{now_rate:g} opt-outs per 100 conversations",
        f"{opt_outs} of {conversations} conversations ended in STOP ({now_rate:g} per 100; "
        f"{comparison}). "
        + (
            "More customers are unsubscribing: check what the bot sent just before."
            if worse
            else "No rise in unsubscribes."
        ),
        {
            "optOuts": opt_outs,
            "conversations": conversations,
            "rate": now_rate,
            "previousOptOuts": before_opt_outs,
            "previousConversations": before_conversations,
            "previousRate": before_rate,
        },
    )


def delivery_failures(figures: Figures) -> Finding | None:
    """Messages that never reached the customer, by Twilio error code, with what to do."""
    total = figures.totals["delivery_failures"]
    if total == 0:
        return None
    codes = sorted(figures.error_codes.items(), key=lambda item: (-item[1], item[0]))
    lines = [f"{code} ({count}): {summary_of(code)}" for code, count in codes]
    return finding(
        "delivery_failures",
        "warning",
        f"{total} message{'s' if total != 1 else ''} could not be delivered",
        "By Twilio error code — " + "; ".join(lines) + ".",
        {"failures": total, "byCode": dict(codes)},
    )


def returning_customers(figures: Figures) -> Finding | None:
    """How many conversations came from customers who had written before."""
    total = figures.totals["conversations"]
    if total < MIN_CONVERSATIONS:
        return None
    returning = figures.totals["returning_customers"]
    share = rate(returning, total, 1)
    return finding(
        "returning_customers",
        "info",
        f"{share:g}% of conversations came from returning customers",
        f"{returning} of {total} conversations were opened by customers who had written "
        f"before; {figures.totals['new_customers']} by new ones. "
        + (
            "Regulars use the bot: keep what they order easy to find."
            if share >= 50
            else "Most are first-timers: a clear welcome and menu matter most."
        ),
        {"returning": returning, "new": figures.totals["new_customers"], "percent": share},
    )


Rule = Callable[[Figures], Finding | None]
RULES: tuple[Rule, ...] = (
    peak_hours,
    funnel_drop,
    never_opened,
    unrecognised,
    opt_out_rate,
    delivery_failures,
    returning_customers,
)


def find(figures: Figures, rules: tuple[Rule, ...] = RULES) -> list[Finding]:
    """Return the findings `rules` make of `figures`, in the rules' order."""
    return [f for f in (rule(figures) for rule in rules) if f is not None]
