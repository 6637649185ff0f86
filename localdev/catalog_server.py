"""A stand-in for the catalog ("Sufrah") API (SPEC §7), with a demo Saudi restaurant menu.

    python -m localdev.catalog_server --port 0 --api-key KEY

prints `CATALOG_URL=http://127.0.0.1:PORT` and serves the demo catalog until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hmac
import re
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import unquote, urlencode

from localdev._http import Fault, RecordedRequest, Reply, StandInServer
from localdev.demo_orders import DemoOrders, FixedOrders, OrderSource

DEMO_MERCHANT_ID = "demo-merchant"
NextStyle = Literal["absolute", "path", "mixed"]

_CATEGORIES = re.compile(r"^/merchants/(?P<merchant>[^/]+)/categories$")
_BRANCHES = re.compile(r"^/merchants/(?P<merchant>[^/]+)/branches$")
_PRODUCTS = re.compile(r"^/merchants/(?P<merchant>[^/]+)/categories/(?P<category>[^/]+)/products$")
_ORDERS = re.compile(r"^/merchants/(?P<merchant>[^/]+)/orders$")
_ROUTES = (_CATEGORIES, _BRANCHES, _PRODUCTS, _ORDERS)


@dataclass
class Merchant:
    """One merchant's catalog: categories in menu order, branches, products by category id,
    and its order history (none when None)."""

    categories: list[dict[str, Any]] = field(default_factory=list)
    branches: list[dict[str, Any]] = field(default_factory=list)
    products: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    orders: OrderSource | None = None

    @property
    def product_count(self) -> int:
        return sum(len(items) for items in self.products.values())


class Catalog:
    """The merchants the server knows; tests may replace any of them while it serves."""

    def __init__(self, merchants: dict[str, Merchant] | None = None) -> None:
        self._merchants: dict[str, Merchant] = dict(merchants or {})
        self._lock = threading.Lock()

    @property
    def merchants(self) -> dict[str, Merchant]:
        with self._lock:
            return dict(self._merchants)

    def get(self, merchant_id: str) -> Merchant | None:
        with self._lock:
            return self._merchants.get(merchant_id)

    def set_merchant(
        self,
        merchant_id: str,
        merchant: Merchant | None = None,
        *,
        categories: list[dict[str, Any]] | None = None,
        branches: list[dict[str, Any]] | None = None,
        products: dict[str, list[dict[str, Any]]] | None = None,
        orders: list[dict[str, Any]] | OrderSource | None = None,
    ) -> Merchant:
        """Add or replace a merchant, given whole or as its lists; return it."""
        if merchant is None:
            source = FixedOrders(orders) if isinstance(orders, list) else orders
            merchant = Merchant(
                list(categories or []), list(branches or []), dict(products or {}), source
            )
        with self._lock:
            self._merchants[merchant_id] = merchant
        return merchant

    def remove_merchant(self, merchant_id: str) -> None:
        with self._lock:
            self._merchants.pop(merchant_id, None)


class CatalogServer(StandInServer):
    """The catalog API over real HTTP, with request recording and fault injection.

    Parameters:
      catalog(Catalog): What to serve; the demo catalog when None.
      api_key(str): The bearer key required on every request; none is checked when None.
      page_size(int): Items per page of every list.
      next_style(str): "absolute", "path" or "mixed" (page 2 absolute, page 3 a path, ...).
      orders_page_size(int): Orders per page of `/orders`.

    `orders_latency` (seconds) is added to every `/orders` answer, on top of `latency`.
    """

    def __init__(
        self,
        catalog: Catalog | None = None,
        *,
        api_key: str | None = None,
        page_size: int = 10,
        next_style: NextStyle = "mixed",
        orders_page_size: int = 50,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if next_style not in ("absolute", "path", "mixed"):
            raise ValueError(f"next_style must be absolute, path or mixed, not {next_style!r}")
        super().__init__(host, port)
        self.catalog = catalog if catalog is not None else demo_catalog()
        self.api_key = api_key
        self.page_size = page_size
        self.next_style: NextStyle = next_style
        self.orders_page_size = orders_page_size
        self.orders_latency = 0.0

    def fail(
        self,
        path_regex: str,
        status: int = 500,
        times: int | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Fault:
        """Answer `status` to the next `times` matching requests (all when None)."""
        return self.add_fault(
            "fail", path_regex, times=times, status=status, body=body, headers=headers
        )

    def timeout(self, path_regex: str, seconds: float = 10, times: int | None = None) -> Fault:
        """Hold the answer to matching requests `seconds` long, so a client's read times out."""
        return self.add_fault("timeout", path_regex, times=times, seconds=seconds)

    def drop(self, path_regex: str, times: int | None = None) -> Fault:
        """Close matching requests' connections without an answer."""
        return self.add_fault("drop", path_regex, times=times)

    def fault_reply(self, request: RecordedRequest, fault: Fault) -> Reply:
        if fault.body is not None:
            return Reply(fault.status, fault.body, fault.headers)
        try:
            error = HTTPStatus(fault.status).phrase.lower().replace(" ", "_")
        except ValueError:
            error = "injected_failure"
        return Reply(fault.status, {"error": error}, fault.headers)

    def route(self, request: RecordedRequest) -> Reply:
        if not self._authorized(request):
            return Reply(401, {"error": "unauthorized"}, {"WWW-Authenticate": "Bearer"})
        if request.method != "GET":
            return Reply(405, {"error": "method_not_allowed"}, {"Allow": "GET"})
        found = next(filter(None, (p.match(request.path) for p in _ROUTES)), None)
        if found is None:
            return Reply(404, {"error": "not_found"})
        merchant = self.catalog.get(unquote(found["merchant"]))
        if merchant is None:
            return Reply(404, {"error": "merchant_not_found"})
        if found.re is _ORDERS:
            return self._orders(request, merchant)
        if found.re is _CATEGORIES:
            items = merchant.categories
        elif found.re is _BRANCHES:
            items = merchant.branches
        else:
            category_id = unquote(found["category"])
            if not any(str(c["id"]) == category_id for c in merchant.categories):
                return Reply(404, {"error": "category_not_found"})
            items = merchant.products.get(category_id, [])
        return self._page(request, items)

    def _authorized(self, request: RecordedRequest) -> bool:
        if self.api_key is None:
            return True
        scheme, _, key = (request.headers.get("Authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and _same(key.strip(), self.api_key)

    def _orders(self, request: RecordedRequest, merchant: Merchant) -> Reply:
        self.pause(self.orders_latency)
        window = []
        for name in ("since", "until"):
            raw = request.query_params.get(name, "")
            try:
                moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                moment = None
            if moment is None or moment.tzinfo is None:
                return Reply(400, {"error": f"invalid_{name}"})
            window.append(moment)
        orders = merchant.orders.between(*window) if merchant.orders is not None else []
        return self._page(request, orders, self.orders_page_size)

    def _page(
        self, request: RecordedRequest, items: list[dict[str, Any]], size: int | None = None
    ) -> Reply:
        raw = request.query_params.get("page", "1")
        if not raw.isdigit() or int(raw) < 1:
            return Reply(400, {"error": "invalid_page"})
        page, size = int(raw), max(1, size or self.page_size)
        start = (page - 1) * size
        more = start + size < len(items)
        return Reply(
            200,
            {
                "data": items[start : start + size],
                "next": self._next_url(request, page + 1) if more else None,
            },
        )

    def _next_url(self, request: RecordedRequest, page: int) -> str:
        # The request's other parameters (an orders window) carry over to the next page.
        path = f"{request.path}?{urlencode({**request.query_params, 'page': str(page)})}"
        absolute = self.next_style == "absolute" or (self.next_style == "mixed" and page % 2 == 0)
        if not absolute:
            return path
        # The host the client used, so that `localhost` and 127.0.0.1 both come back intact.
        host = request.headers.get("Host") or f"{self.host}:{self.port}"
        return f"http://{host}{path}"


# -- demo data -------------------------------------------------------------------------

# (id, English, Arabic, [(product English, Arabic, price in SAR), ...]) in menu order.
_DEMO_MENU: list[tuple[str, str, str, list[tuple[str, str, str]]]] = [
    ("appetizers", "Appetizers", "مقبلات", [
        ("Hummus", "حمص", "14.00"),
        ("Mutabbal", "متبل", "15.00"),
        ("Falafel (6 pcs)", "فلافل ٦ حبات", "12.50"),
        ("Sambousek Cheese", "سمبوسك جبن", "16.00"),
        ("Vine Leaves", "ورق عنب", "18.00"),
    ]),
    ("salads", "Salads", "سلطات", [
        ("Fattoush", "فتوش", "17.00"),
        ("Tabbouleh", "تبولة", "17.00"),
        ("Arabic Salad", "سلطة عربية", "13.50"),
        ("Rocca Salad", "سلطة جرجير", "19.00"),
    ]),
    ("soups", "Soups", "شوربات", [
        ("Lentil Soup", "شوربة عدس", "12.00"),
        ("Harees", "هريس", "16.50"),
        ("Freekeh Soup", "شوربة فريكة", "13.00"),
    ]),
    ("grills", "Grills", "مشويات", [
        ("Shish Tawook", "شيش طاووق", "38.00"),
        ("Lamb Kebab", "كباب لحم", "42.00"),
        ("Chicken Kebab", "كباب دجاج", "36.00"),
        ("Lamb Chops", "ريش غنم", "69.00"),
        ("Mixed Grill", "مشويات مشكلة", "75.50"),
        ("Half Grilled Chicken", "نصف دجاج مشوي", "29.00"),
        ("Whole Grilled Chicken", "دجاج مشوي كامل", "52.00"),
        ("Lamb Tikka", "تكة لحم", "45.00"),
        ("Kofta", "كفتة", "34.00"),
        ("Arayes", "عرايس", "27.50"),
        ("Grilled Hammour", "هامور مشوي", "85.00"),
        ("Grilled Shrimp", "روبيان مشوي", "79.00"),
        ("Beef Steak", "ستيك لحم", "89.00"),
    ]),
    ("rice", "Rice Dishes", "أطباق الأرز", [
        ("Chicken Kabsa", "كبسة دجاج", "32.00"),
        ("Lamb Kabsa", "كبسة لحم", "55.00"),
        ("Chicken Mandi", "مندي دجاج", "34.00"),
        ("Lamb Mandi", "مندي لحم", "58.50"),
        ("Madghout", "مضغوط", "36.00"),
    ]),
    ("shawarma", "Shawarma", "شاورما", [
        ("Chicken Shawarma Wrap", "شاورما دجاج", "11.00"),
        ("Beef Shawarma Wrap", "شاورما لحم", "13.00"),
        ("Chicken Shawarma Plate", "صحن شاورما دجاج", "25.50"),
        ("Arabic Shawarma", "شاورما عربي", "21.00"),
    ]),
    ("sandwiches", "Sandwiches", "سندويشات", [
        ("Falafel Sandwich", "سندويش فلافل", "7.00"),
        ("Halloumi Sandwich", "سندويش حلومي", "14.00"),
        ("Liver Sandwich", "سندويش كبدة", "12.00"),
    ]),
    ("family", "Family Meals", "وجبات عائلية", [
        ("Family Kabsa (4 persons)", "كبسة عائلية ٤ أشخاص", "149.00"),
        ("Family Grill Platter", "صينية مشويات عائلية", "189.00"),
        ("Family Shawarma Box", "بوكس شاورما عائلي", "99.00"),
    ]),
    ("kids", "Kids Meals", "وجبات الأطفال", [
        ("Kids Chicken Nuggets", "ناجتس أطفال", "19.00"),
        ("Kids Mini Kabsa", "كبسة صغيرة للأطفال", "21.00"),
    ]),
    ("desserts", "Desserts", "حلويات", [
        ("Kunafa", "كنافة", "22.00"),
        ("Umm Ali", "أم علي", "19.50"),
        ("Basbousa", "بسبوسة", "15.00"),
        ("Luqaimat", "لقيمات", "14.00"),
    ]),
    ("hot-drinks", "Hot Drinks", "مشروبات ساخنة", [
        ("Saudi Coffee", "قهوة سعودية", "9.00"),
        ("Karak Tea", "شاي كرك", "6.00"),
        ("Mint Tea", "شاي بالنعناع", "5.00"),
    ]),
    ("cold-drinks", "Cold Drinks", "مشروبات باردة", [
        ("Fresh Orange Juice", "عصير برتقال طازج", "12.00"),
        ("Lemon Mint", "ليمون بالنعناع", "13.00"),
        ("Laban", "لبن", "4.50"),
        ("Mineral Water", "مياه معدنية", "2.00"),
    ]),
]  # fmt: skip

_DEMO_BRANCHES: list[dict[str, Any]] = [
    {
        "id": "riyadh-olaya",
        "name": "Olaya / العليا",
        "city": "Riyadh",
        "address": "Olaya St, Al Olaya, Riyadh 12211 / شارع العليا، حي العليا، الرياض",
        "hours": "Daily 12:00-01:00",
        "phone": "+966112345678",
    },
    {
        "id": "riyadh-nakheel",
        "name": "Al Nakheel / النخيل",
        "city": "Riyadh",
        "address": "Imam Saud bin Faisal Rd, Al Nakheel, Riyadh 12382 / حي النخيل، الرياض",
        "hours": "Sat-Thu 12:00-00:00, Fri 13:30-01:00",
        "phone": "+966112345679",
    },
    {
        "id": "jeddah-tahlia",
        "name": "Tahlia / التحلية",
        "city": "Jeddah",
        "address": "Prince Mohammed bin Abdulaziz St, Al Andalus, Jeddah 23326 / شارع التحلية، جدة",
        "hours": "Daily 13:00-02:00",
        "phone": "+966126543210",
    },
]  # fmt: skip


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _price(amount: str, index: int) -> float | str:
    # Both shapes the real API sends: a JSON number for some items, a decimal string for others.
    return float(amount) if index % 2 == 0 else amount


def demo_catalog(
    clock: Callable[[], dt.datetime] | None = None, *, orders_scale: float = 1.0
) -> Catalog:
    """Return a fresh catalog holding the demo merchant `demo-merchant` (its orders are the
    60 days before `clock()`, now by default; `orders_scale` times as many for benchmarks)."""
    categories: list[dict[str, Any]] = []
    products: dict[str, list[dict[str, Any]]] = {}
    number = 0
    for position, (category_id, english, arabic, items) in enumerate(_DEMO_MENU, start=1):
        categories.append(
            {
                "id": category_id,
                "name": f"{english} / {arabic}",
                "name_en": english,
                "name_ar": arabic,
                "position": position,
            }
        )
        products[category_id] = []
        for item_english, item_arabic, amount in items:
            number += 1
            products[category_id].append(
                {
                    "id": f"p{number:03d}",
                    "category_id": category_id,
                    "name": f"{item_english} / {item_arabic}",
                    "name_en": item_english,
                    "name_ar": item_arabic,
                    "price": _price(amount, number),
                    "currency": "SAR",
                    "available": True,
                }
            )
    branches = [dict(branch) for branch in _DEMO_BRANCHES]
    orders = DemoOrders(
        [p for items in products.values() for p in items], clock=clock, scale=orders_scale
    )
    return Catalog({DEMO_MERCHANT_ID: Merchant(categories, branches, products, orders)})


def synthetic_merchant(
    categories: int = 30, branches: int = 20, products_per_category: int = 5
) -> Merchant:
    """Return a generated merchant of the given size, for benchmarks."""
    merchant = Merchant()
    for c in range(1, categories + 1):
        category_id = f"c{c}"
        merchant.categories.append(
            {"id": category_id, "name": f"Category {c} / فئة {c}", "position": c}
        )
        merchant.products[category_id] = [
            {
                "id": f"{category_id}-p{p}",
                "category_id": category_id,
                "name": f"Item {c}.{p} / صنف {c}.{p}",
                "price": _price(f"{10 + c + p * 0.25:.2f}", p),
                "currency": "SAR",
            }
            for p in range(1, products_per_category + 1)
        ]
    for b in range(1, branches + 1):
        city = "Riyadh" if b % 2 else "Jeddah"
        merchant.branches.append(
            {
                "id": f"b{b}",
                "name": f"Branch {b} / فرع {b}",
                "city": city,
                "address": f"{b} King Fahd Rd, {city}",
                "hours": "Daily 12:00-00:00",
            }
        )
    return merchant


def main(argv: list[str] | None = None) -> int:
    """Serve the demo catalog until SIGTERM or SIGINT; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--page-size", type=int, default=10)
    parser.add_argument("--next-style", choices=("absolute", "path", "mixed"), default="mixed")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to answers")
    parser.add_argument("--orders-page-size", type=int, default=50)
    parser.add_argument(
        "--orders-latency", type=float, default=0.0, help="seconds added to /orders answers"
    )
    parser.add_argument(
        "--orders-scale", type=float, default=1.0, help="times the demo's orders per day"
    )
    args = parser.parse_args(argv)

    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    server = CatalogServer(
        demo_catalog(orders_scale=args.orders_scale),
        api_key=args.api_key,
        page_size=args.page_size,
        next_style=args.next_style,
        orders_page_size=args.orders_page_size,
        host=args.host,
        port=args.port,
    )
    server.latency = args.latency
    server.orders_latency = args.orders_latency
    with server:
        print(f"CATALOG_URL={server.url}", flush=True)
        while not stopping.wait(1.0):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
