"""The front page, the account overview, and the reader's language and zone."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from portal.localization import LANGUAGES, OFFERED_ZONES
from portal.session import LANGUAGE_COOKIE, ZONE_COOKIE
from portal.web import (
    PREFERENCE_COOKIE_SECONDS,
    CustomerDep,
    FormDep,
    MaybeCustomerDep,
    VisitDep,
    redirect,
    render,
    safe_next,
)

router = APIRouter(include_in_schema=False)


@router.get("/")
async def front_page(visit: VisitDep, customer: MaybeCustomerDep) -> Response:
    if customer is not None:
        return redirect("/account")
    return render(visit, "front.html")


@router.get("/account")
async def overview(visit: VisitDep, customer: CustomerDep) -> Response:
    if customer.is_staff:
        return redirect("/staff")  # staff sign in on the same page; their home is the console
    return render(visit, "account.html", me=customer.me, notice_key=visit.request.query_params.get("notice"))


@router.get("/language/{language}")
async def switch_language(visit: VisitDep, language: str, next: str | None = None) -> Response:
    """A plain link, so the switch works without JavaScript; it only sets a preference."""
    if language in LANGUAGES:
        visit.set_cookie(LANGUAGE_COOKIE, language, PREFERENCE_COOKIE_SECONDS)
    return redirect(safe_next(next, "/"))


@router.post("/preferences/zone")
async def choose_zone(visit: VisitDep, form: FormDep) -> Response:
    zone = form.text("zone", 64)
    if zone in OFFERED_ZONES:
        visit.set_cookie(ZONE_COOKIE, zone, PREFERENCE_COOKIE_SECONDS)
    return redirect(safe_next(form.text("next", 200), "/security"))
