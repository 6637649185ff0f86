"""What a failed message's error code means to a restaurant owner, and what to do about it.

The one table of advice per Twilio error code (and per our own codes for sends that never
got an answer): the owner's "Messages that failed" page, the insights finding
`delivery_failures` and any CLI or API read it here. Words are for an owner, not an
engineer; settings are named where one fixes the problem. `bot.send_errors` decides what a
code means for the *bot* (retry, give up, opt out); this module says what it means for
the *owner*.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.send_errors import CONNECTION, TIMEOUT, TRANSPORT

# Where Twilio explains a code; written out as text, never fetched by our pages.
REFERENCE = "www.twilio.com/docs/api/errors/{code}"
# Our code for a row the bot did not send because the customer had opted out meanwhile
# (`bot.outbox.claim`), and the key of failures Twilio reported without a code.
OPTED_OUT = "opted_out"
NO_CODE = ""


@dataclass(frozen=True)
class Advice:
    """What one error code means for an owner.

    Parameters:
      code(str): The code as stored on the message ("63016", "timeout", "" for none).
      name(str): A few words that name the problem.
      meaning(str): What happened, in one or two sentences.
      action(str): What the owner can do (or that there is nothing to do).
      summary(str): One line for lists and findings.
      reference(str | None): Twilio's page for a Twilio code, as text (no scheme).
      known(bool): False for a code this table does not describe.
    """

    code: str
    name: str
    meaning: str
    action: str
    summary: str
    reference: str | None = None
    known: bool = True


_WINDOW = (
    "Outside WhatsApp's 24-hour window",
    "WhatsApp lets a business send ordinary messages only within 24 hours of the "
    "customer's last message. This one was sent later, so WhatsApp refused it.",
    "Nothing reaches this person until they write to your number again. The bot answers "
    "customers at once, so this is usually a usage alert to your own WhatsApp number "
    "after a quiet day: write to your bot's number once a day, or ask your operator to set "
    "an approved alert template (setting CONTENT_SID_OWNER_ALERT). A welcome refused this "
    "way needs an approved welcome template (setting CONTENT_SID_WELCOME, or the "
    "restaurant's own).",
    "a template is needed outside WhatsApp's 24-hour window: messages sent more than 24 "
    "hours after the customer's last message must use an approved template",
)
_UNSUBSCRIBED = (
    "Customer unsubscribed",
    "The customer sent STOP (or blocked your number in WhatsApp), so they asked not to get "
    "messages from you.",
    "Nothing to fix. The bot will not message them again until they send START to your "
    "WhatsApp number; if they stopped by mistake, ask them to send START.",
    "the customer unsubscribed (sent STOP): nothing reaches them until they send START",
)
_NOT_ON_WHATSAPP = (
    "Not a WhatsApp number",
    "WhatsApp cannot deliver to this number: it has no WhatsApp account, or the account "
    "was deleted or cannot receive business messages.",
    "Nothing to fix on your side; reach this customer another way (a call or SMS). If "
    "many customers fail like this at once, ask your operator to check the bot's number.",
    "invalid recipient: that number cannot receive WhatsApp messages",
)
_THROTTLED = (
    "Too many messages at once",
    "Twilio or WhatsApp slowed the bot down because it sent more messages than its "
    "sending limit allows at that moment.",
    "When Twilio refuses a message for this, the bot tries again by itself, with pauses; "
    "the ones counted here never got through. If this happens at your busy hours, ask your "
    "operator to raise the number's WhatsApp sending limit (its messaging tier) with Twilio.",
    "rate limit: Twilio throttled the bot; refused messages are retried, these never got through",
)
_UNREACHABLE = (
    "Phone unreachable",
    "The customer's phone could not be reached: switched off, out of coverage or without "
    "internet for too long.",
    "Nothing to fix. They get messages again once their phone is back and they write.",
    "the customer's phone was unreachable (off or out of coverage)",
)

_BOT_MISTAKE = (
    "Message the bot made wrongly",
    "Twilio refused the message itself (too long, or empty): a mistake of the bot.",
    "Tell your operator, with the time of the last one; nothing to do on your side.",
    "the bot made the message wrongly (too long or empty); tell the operator",
)

_TABLE: dict[str, tuple[str, str, str, str]] = {
    "63016": _WINDOW,
    "21610": _UNSUBSCRIBED,
    "63024": _NOT_ON_WHATSAPP,
    "63003": _NOT_ON_WHATSAPP,
    "21211": (
        "Invalid phone number",
        "The number is not a valid phone number, so Twilio refused to send to it.",
        "If it is a number you typed in (your own number for alerts, for example), check it "
        "is written with its country code, like +9665…. Customers' numbers come from "
        "WhatsApp itself, so for them there is nothing to fix.",
        "invalid number: check it is written with its country code",
    ),
    "21614": (
        "Not a mobile number",
        "The number is a landline or another number that cannot receive messages.",
        "Use a mobile number that has WhatsApp (check the number set for your alerts).",
        "not a mobile number: use a mobile number with WhatsApp",
    ),
    "63018": _THROTTLED,
    "20429": _THROTTLED,
    "14107": _THROTTLED,
    "30003": _UNREACHABLE,
    "30005": (
        "Unknown number",
        "The customer's carrier says this number does not exist (any more).",
        "Nothing to fix; the customer may have changed numbers.",
        "unknown number: the carrier says it does not exist",
    ),
    "30006": (
        "Landline or unreachable carrier",
        "The number is a landline, or its carrier cannot receive these messages.",
        "Nothing to fix on your side; reach this customer another way.",
        "a landline or a carrier that cannot receive the message",
    ),
    "30007": (
        "Filtered as spam",
        "The carrier or WhatsApp filtered the message, usually because it looked like spam.",
        "Check what the bot sends (links, the same text many times). If it keeps happening, "
        "ask your operator to check the number's quality rating with Twilio.",
        "filtered by the carrier or WhatsApp, often as possible spam",
    ),
    "30008": (
        "Unknown delivery error",
        "The phone network did not say why the message was not delivered.",
        "Usually passes by itself. If one customer keeps failing, their phone or WhatsApp "
        "may have a problem; many customers at once: tell your operator.",
        "unknown error on the phone network; usually passes by itself",
    ),
    "63032": (
        "Held back by WhatsApp",
        "WhatsApp chose not to deliver this message to this person (Meta limits how many "
        "business messages some people get, for example in its experiments).",
        "Nothing to fix; replies to the customer's own messages still get through.",
        "WhatsApp held the message back for this person (a WhatsApp limitation)",
    ),
    "63049": (
        "Marketing message not delivered",
        "Meta chose not to deliver a WhatsApp template it counts as marketing to this person.",
        "Ask your operator whether the template is categorised as marketing; a welcome or "
        "alert template should be a utility template.",
        "Meta did not deliver a marketing template to this person",
    ),
    "21612": (
        "Not reachable this way",
        "Twilio cannot reach this number over WhatsApp from your bot's number.",
        "Nothing to fix for one customer; many at once: tell your operator.",
        "the number cannot be reached over this channel",
    ),
    "21408": (
        "Country not enabled",
        "Sending to this customer's country is not enabled on the Twilio account.",
        "Ask your operator to enable that country in Twilio's messaging settings.",
        "sending to this country is not enabled on the Twilio account",
    ),
    "21655": (
        "Template not found",
        "The message used a template (Content SID) that Twilio does not know.",
        "Ask your operator to check the template set for the welcome (restaurants update "
        "--welcome-content-sid) or for alerts (CONTENT_SID_OWNER_ALERT).",
        "the template (Content SID) set for this message does not exist",
    ),
    "21656": (
        "Template filled in wrongly",
        "The template's placeholders did not match what the bot filled in.",
        "Ask your operator to check that the template has the placeholders {{1}} and {{2}}.",
        "the template's placeholders did not match what the bot filled in",
    ),
    "21606": (
        "Bot's number cannot send",
        "Twilio does not accept your bot's WhatsApp number as a sender.",
        "Tell your operator: the restaurant's WhatsApp number is not set up for sending.",
        "the bot's number is not set up to send; tell the operator",
    ),
    "21617": _BOT_MISTAKE,
    "21619": _BOT_MISTAKE,
    OPTED_OUT: (
        "Customer had unsubscribed",
        "The customer sent STOP before this message went out, so the bot did not send it.",
        "Nothing to do: this is the bot respecting their STOP. They get messages again after "
        "sending START.",
        "not sent: the customer had sent STOP",
    ),
    TIMEOUT: (
        "Twilio did not answer in time",
        "Twilio did not answer in time twice. The message may have arrived; the bot does not "
        "try a third time, so the customer never gets the same message twice.",
        "Nothing to do for a few. Many at once means Twilio was slow: tell your operator.",
        "Twilio did not answer in time; not retried again in case it arrived",
    ),
    CONNECTION: (
        "Could not reach Twilio",
        "The bot could not connect to Twilio, even after retrying.",
        "Tell your operator: the bot's connection to Twilio was down.",
        "the bot could not reach Twilio, even after retrying",
    ),
    TRANSPORT: (
        "Connection problem with Twilio",
        "The connection to Twilio broke while sending, even after retrying.",
        "Tell your operator: the bot's connection to Twilio was failing.",
        "the connection to Twilio failed, even after retrying",
    ),
    NO_CODE: (
        "No reason given",
        "Twilio reported the message as not delivered without an error code.",
        "Nothing to do for a few. If many fail this way, tell your operator.",
        "not delivered, no reason given",
    ),
}
_SERVER_ERRORS = (
    "Twilio was having problems",
    "Twilio answered with an error on its side, even after the bot retried.",
    "Nothing to fix on your side. Many at once: Twilio had an outage; tell your operator.",
    "Twilio had an error on its side, even after retries",
)


def advice_for(code: str | None) -> Advice:
    """Return what `code` (as stored on a failed message) means and what to do about it."""
    key = (code or NO_CODE).strip()
    entry = _TABLE.get(key)
    if entry is None and key.isdigit() and (key.startswith("205") or key.startswith("5")):
        entry = _SERVER_ERRORS  # 20500, 20503, and an HTTP 5xx without a Twilio code
    reference = REFERENCE.format(code=key) if _is_twilio_code(key) else None
    if entry is None:
        return Advice(
            key,
            "Another error",
            "This error is not one the bot explains yet.",
            "If many messages fail with it, tell your operator. Look it up in Twilio's error "
            "dictionary:",
            "see Twilio's error reference for this code",
            reference,
            known=False,
        )
    name, meaning, action, summary = entry
    return Advice(key, name, meaning, action, summary, reference)


def summary_of(code: str | None) -> str:
    """Return one line on what `code` means and what to do (for findings and lists)."""
    return advice_for(code).summary


def _is_twilio_code(key: str) -> bool:
    # Twilio's codes have five digits; a bare HTTP status (a 4xx without a code) has three.
    return key.isdigit() and len(key) == 5
