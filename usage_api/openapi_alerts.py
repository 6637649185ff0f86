"""Alerts, channels, test sends, the delivery log and the usage forecast in the OpenAPI
document (SPEC §15)."""

from __future__ import annotations

from typing import Any

from alerts.addresses import E164, EMAIL, MAX_URL
from alerts.rules import MAX_RULES
from usage_api.openapi_schema import (
    COUNT,
    DENIED,
    NULLABLE_TEXT,
    OWNER_OR_ADMIN,
    PAGE_PARAMETERS,
    TIMESTAMP,
    error_response,
    json_content,
    ref,
    response,
    strict,
)

_RESTAURANT = {
    "name": "restaurantId",
    "in": "query",
    "description": (
        "The restaurant: an API key must name it (else 400 `missing_restaurant_id`);"
        " a PAT may leave it out or name its own (another is 403)"
    ),
    "schema": {"type": "string", "minLength": 1},
}
_ANY_RESTAURANT = {
    **_RESTAURANT,
    "description": "The restaurant (an API key without it sees every delivery)",
}
_METRIC = {"type": "string", "enum": ["daily_messages", "monthly_conversations", "pace"]}
_CHANNEL_TYPE = {"type": "string", "enum": ["webhook", "email", "whatsapp"]}
# The targets each type accepts (a webhook's address is checked too: SPEC §15's SSRF rules).
_URL = {
    "type": "string",
    "maxLength": MAX_URL,
    "pattern": r"^https?://[^\s/?#@:\[\]]+(:[1-9][0-9]{0,3})?(/\S*)?$",
}
_EMAIL = {"type": "string", "maxLength": 254, "pattern": EMAIL.pattern}
_NUMBER = {"type": "string", "pattern": E164.pattern}


def _channel_input(kind: str, target: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"type": {"const": kind}, "target": target},
        "required": ["type", "target"],
        "additionalProperties": False,
    }


_NO_SECRETS = error_response("`unavailable`: SECRETS_KEY is not configured (webhooks need it)")
_WRITE = {
    "400": response("BadRequest"),
    **DENIED,
    "404": response("NotFound"),
}

SCHEMAS: dict[str, Any] = {
    "AlertRule": strict(
        "A rule: a threshold in percent of an allowance, or the pace (threshold null).",
        {
            "metric": _METRIC,
            "threshold": {"type": ["integer", "null"], "minimum": 1, "maximum": 100},
            "enabled": {"type": "boolean"},
        },
    ),
    "AlertRules": strict(
        "The whole list of a restaurant's rules (at most 10).",
        {"rules": {"type": "array", "items": ref("AlertRule"), "maxItems": MAX_RULES}},
    ),
    "AlertRulesInput": strict(
        "The whole list of rules to store; `enabled` defaults to true.",
        {
            "rules": {
                "type": "array",
                "maxItems": MAX_RULES,
                "items": {
                    "oneOf": [
                        {
                            "type": "object",
                            "properties": {
                                "metric": {"enum": ["daily_messages", "monthly_conversations"]},
                                "threshold": {"type": "integer", "minimum": 1, "maximum": 100},
                                "enabled": {"type": "boolean"},
                            },
                            "required": ["metric", "threshold"],
                            "additionalProperties": False,
                        },
                        {
                            "type": "object",
                            "properties": {
                                "metric": {"const": "pace"},
                                "threshold": {"type": "null"},
                                "enabled": {"type": "boolean"},
                            },
                            "required": ["metric"],
                            "additionalProperties": False,
                        },
                    ]
                },
            }
        },
    ),
    "AlertChannel": strict(
        "Where events go.",
        {
            "id": {"type": "string"},
            "type": _CHANNEL_TYPE,
            "target": {"type": "string", "description": "URL, e-mail address or E.164 number"},
            "createdAt": TIMESTAMP,
        },
    ),
    "AlertChannelCreated": {
        **strict(
            "The new channel; a webhook's signing secret is shown here only.",
            {
                "id": {"type": "string"},
                "type": _CHANNEL_TYPE,
                "target": {"type": "string"},
                "createdAt": TIMESTAMP,
                "secret": {"type": "string"},
            },
        ),
        "required": ["id", "type", "target", "createdAt"],
    },
    "Alerts": strict(
        "A restaurant's rules and channels.",
        {
            "rules": {"type": "array", "items": ref("AlertRule")},
            "channels": {"type": "array", "items": ref("AlertChannel")},
        },
    ),
    "Notification": strict(
        "One event's delivery to one channel (operator events: channelId null).",
        {
            "id": {"type": "string"},
            "eventId": {"type": "string"},
            "type": {"type": "string"},
            "channelId": NULLABLE_TEXT,
            "status": {"type": "string", "enum": ["pending", "delivered", "failed", "dead"]},
            "attempts": COUNT,
            "lastError": NULLABLE_TEXT,
            "createdAt": TIMESTAMP,
            "deliveredAt": TIMESTAMP,
        },
    ),
    "NotificationPage": strict(
        "A page of deliveries, newest first.",
        {"data": {"type": "array", "items": ref("Notification")}, "pagination": ref("Pagination")},
    ),
    "Forecast": strict(
        "The pace (`?include=forecast`): rates of the last 7 complete local days and of today.",
        {
            "dailyConversationRate": {"type": "number", "minimum": 0},
            "projectedMonthConversations": COUNT,
            "monthlyLimitReachedOn": {"type": ["string", "null"], "format": "date"},
            "dailyMessagesRate": {"type": "number", "minimum": 0},
            "dailyLimitReachedAt": TIMESTAMP,
        },
    ),
}

PATHS: dict[str, Any] = {
    "/api/alerts": {
        "get": {
            "operationId": "getAlerts",
            "summary": "The restaurant's alert rules and channels",
            "security": OWNER_OR_ADMIN,
            "parameters": [_RESTAURANT],
            "responses": {
                "200": json_content("Rules and channels", ref("Alerts")),
                **_WRITE,
            },
        }
    },
    "/api/alerts/rules": {
        "put": {
            "operationId": "replaceAlertRules",
            "summary": "Replace the whole list of rules (thresholds 1-100, at most 10)",
            "security": OWNER_OR_ADMIN,
            "parameters": [_RESTAURANT],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ref("AlertRulesInput")}},
            },
            "responses": {"200": json_content("The rules stored", ref("AlertRules")), **_WRITE},
        }
    },
    "/api/alerts/channels": {
        "post": {
            "operationId": "addAlertChannel",
            "summary": "Add a channel (a webhook URL must reach a globally routable address)",
            "security": OWNER_OR_ADMIN,
            "parameters": [_RESTAURANT],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                _channel_input("webhook", _URL),
                                _channel_input("email", _EMAIL),
                                _channel_input("whatsapp", _NUMBER),
                            ]
                        }
                    }
                },
            },
            "responses": {
                "201": json_content("The channel", ref("AlertChannelCreated")),
                **_WRITE,
                "409": response("Conflict"),
                "503": _NO_SECRETS,
            },
        }
    },
    "/api/alerts/channels/{channelId}": {
        "delete": {
            "operationId": "deleteAlertChannel",
            "summary": "Delete a channel",
            "security": OWNER_OR_ADMIN,
            "parameters": [
                {"name": "channelId", "in": "path", "required": True, "schema": {"type": "string"}},
                _RESTAURANT,
            ],
            "responses": {"204": {"description": "Deleted"}, **_WRITE},
        }
    },
    "/api/alerts/test": {
        "post": {
            "operationId": "sendTestAlert",
            "summary": "Send a `test` event to every channel",
            "security": OWNER_OR_ADMIN,
            "parameters": [_RESTAURANT],
            "responses": {
                "202": json_content(
                    "Queued", strict("The test event.", {"eventId": {"type": "string"}})
                ),
                **_WRITE,
            },
        }
    },
    "/api/notifications": {
        "get": {
            "operationId": "listNotifications",
            "summary": "The delivery log, newest first (an admin without restaurantId: all)",
            "security": OWNER_OR_ADMIN,
            "parameters": [*PAGE_PARAMETERS, _ANY_RESTAURANT],
            "responses": {
                "200": json_content("A page of deliveries", ref("NotificationPage")),
                **_WRITE,
            },
        }
    },
}
