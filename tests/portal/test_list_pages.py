"""Long lists in the portal and the staff console: a page at a time, a "Next page" link that
follows the service's ``next``, each item once; an edited cursor brings back the first page."""

from __future__ import annotations

import re

from services.auth.accounts.models import Role
from services.verification.cases import flows
from tests.auth.messaging_support import file
from tests.orders.harness import card_tender, line
from tests.portal.conftest import CasePortal, PortalHarness
from tests.portal.test_staff_pages import staff_signs_in

_NEXT = re.compile(r'href="([^"]+)" rel="next"')


def _pages(browser: object, path: str) -> list[str]:
    """Every page's HTML, following "Next page" links from ``path``."""
    texts = []
    url: str | None = path
    while url is not None:
        page = browser.get(url)  # type: ignore[attr-defined]
        assert page.status_code == 200, page.text
        texts.append(page.text)
        found = _NEXT.search(page.text)
        url = found.group(1).replace("&amp;", "&") if found else None
        assert len(texts) < 50
    return texts


def test_the_message_centre_pages_with_a_next_link_each_message_once(portal: PortalHarness) -> None:
    hana = portal.auth.register("hana@example.com")
    references = []
    for number in range(25):
        references.append(file(portal.auth.app, hana, "account_locked", {"until": "12:00", "case_id": f"c{number}"}))
        portal.auth.clock.advance(seconds=1)
    portal.sign_in("hana@example.com")

    pages = _pages(portal.browser, "/messages")

    assert len(pages) == 2 and "Next page" in pages[0] and "Next page" not in pages[1] and "First page" in pages[1]
    shown = [[reference for reference in references if reference in page] for page in pages]
    assert shown == [references[::-1][:20][::-1], references[:5]]  # newest twenty, then the oldest five
    edited = portal.browser.get("/messages", params={"cursor": "e30.AAAA"}, follow_redirects=False)
    assert edited.status_code in (302, 303) and edited.headers["location"] == "/messages"


def test_the_staff_console_pages_through_a_queue_longer_than_a_page(case_portal: CasePortal) -> None:
    env = case_portal.verification.app.state.verification
    with case_portal.verification.app.state.db.session() as db:
        for number in range(23):
            case = flows.open_case(
                db,
                env,
                account_id=f"{number:032x}",
                kind="callback",
                opening_step="callback_requested",
                actor="customer",
                channel="portal",
                now=case_portal.verification.clock.now(),
            )
            case.needs_staff = True
        db.commit()
    staff_signs_in(case_portal, Role.specialist, "specialist@example.com")

    pages = _pages(case_portal.browser, "/staff")

    links = [re.findall(r'href="/staff/cases/([0-9a-f]+)"', page) for page in pages]
    assert [len(found) for found in links] == [20, 3]
    assert len({case_id for found in links for case_id in found}) == 23


def test_the_orders_page_pages_through_more_orders_than_a_page(case_portal: CasePortal) -> None:
    account_id = case_portal.customer("hana@example.com")
    placed = [case_portal.place(account_id, [line("physical", 100)], [card_tender(100)])["id"] for _ in range(22)]

    pages = _pages(case_portal.browser, "/orders")

    links = [re.findall(r'href="/orders/([0-9a-f]+)"', page) for page in pages]
    assert [len(set(found)) for found in links] == [20, 2]
    assert sorted(case_id for found in links for case_id in set(found)) == sorted(placed)
