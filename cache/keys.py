"""Where cached things live in Redis: one helper per kind of entry, shared by every caller.

    <namespace>:catalog:<merchant>:categories
    <namespace>:catalog:<merchant>:branches
    <namespace>:catalog:<merchant>:products:<category>
    <namespace>:template:<content sid>

Ids are percent-encoded, so a `:` or a `*` in an upstream id cannot reach into another
key or a purge pattern. Purging a merchant removes every key under `catalog:<merchant>:`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from store.redis import Keys


def _part(identifier: str) -> str:
    return quote(str(identifier), safe="")


@dataclass(frozen=True)
class CacheKeys:
    """Build the cache's Redis keys under `REDIS_NAMESPACE`."""

    keys: Keys

    @classmethod
    def for_namespace(cls, namespace: str) -> CacheKeys:
        """Return the key helpers of `namespace`."""
        return cls(Keys(namespace))

    def merchant_prefix(self, merchant_id: str) -> str:
        """Return the prefix of every cached catalog key of a merchant (ends with `:`)."""
        return self.keys("catalog", _part(merchant_id), "")

    def categories(self, merchant_id: str) -> str:
        """Return the key of a merchant's category list."""
        return self.merchant_prefix(merchant_id) + "categories"

    def branches(self, merchant_id: str) -> str:
        """Return the key of a merchant's branch list."""
        return self.merchant_prefix(merchant_id) + "branches"

    def products(self, merchant_id: str, category_id: str) -> str:
        """Return the key of one category's product list."""
        return self.merchant_prefix(merchant_id) + f"products:{_part(category_id)}"

    def template(self, content_sid: str) -> str:
        """Return the key of a Twilio Content template (`HX…`)."""
        return self.keys("template", _part(content_sid))

    def purge_channel(self) -> str:
        """Return the pub/sub channel that carries purged prefixes to every process."""
        return self.keys("cache", "purge")
