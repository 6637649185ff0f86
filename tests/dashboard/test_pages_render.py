"""Every page renders for an operator (a smoke test; the other tests say what they show)."""

import pytest

PAGES = [
    "/dashboard/admin/overview",
    "/dashboard/admin/restaurants",
    "/dashboard/admin/restaurants?sort=lastActivity&order=desc&q=grill",
    "/dashboard/admin/jobs",
    "/dashboard/admin/dead-letters",
    "/dashboard/admin/dead-letters/confirm?action=retry",
    "/dashboard/admin/breakers",
    "/dashboard/r/r1/usage",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_operator_page_renders(admin, path):
    answer = admin.get(path)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:2000]
    assert answer.mimetype == "text/html"
