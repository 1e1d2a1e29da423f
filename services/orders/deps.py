"""Typed dependencies of the orders routes: who calls, from where, and the app's collaborators."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import iptocc
from fastapi import Depends, Request

from mamori_common.network import resolve_client_ip
from mamori_common.problems import Problem
from mamori_common.tokens import CurrentPrincipal, Principal
from services.orders.config import OrdersSettings
from services.orders.payments.provider import PaymentProvider
from services.orders.risk.service import session_started_at
from services.orders.standing import StandingClient

STAFF_ROLES = ("specialist", "support", "admin")


def get_settings(request: Request) -> OrdersSettings:
    return request.app.state.settings


def get_provider(request: Request) -> PaymentProvider:
    return request.app.state.payment_provider


def get_standing(request: Request) -> StandingClient:
    return request.app.state.standing


SettingsDep = Annotated[OrdersSettings, Depends(get_settings)]
ProviderDep = Annotated[PaymentProvider, Depends(get_provider)]
StandingDep = Annotated[StandingClient, Depends(get_standing)]


def customer(principal: CurrentPrincipal) -> Principal:
    """Customer routes act on the caller's own account; staff use the staff routes."""
    if principal.is_staff:
        raise Problem(403, "forbidden", "This operation is for customers; staff use the staff routes.")
    return principal


def staff(principal: CurrentPrincipal) -> Principal:
    if principal.role not in ("support", "admin"):
        raise Problem(403, "forbidden", "This operation is for support or admin staff only.")
    return principal


Customer = Annotated[Principal, Depends(customer)]
Staff = Annotated[Principal, Depends(staff)]


@dataclass(frozen=True)
class Origin:
    """Where an order came from: remembered with it (S2 finds orders by session)."""

    session_id: str
    device_id: str | None
    client_ip: str
    country: str | None
    session_started_at: datetime | None = None


def origin(request: Request, principal: Customer) -> Origin:
    settings: OrdersSettings = request.app.state.settings
    peer = request.client.host if request.client else None
    ip = resolve_client_ip(peer, request.headers.get("x-forwarded-for"), settings.trusted_proxies)
    # The device auth recognised, from the access token: a header or cookie the client writes proves
    # nothing (and could carry anything, a card number included, into the order row).
    claimed = principal.claims.get("device_id")
    device = claimed if isinstance(claimed, str) and claimed.isascii() and claimed.isprintable() else None
    try:
        country = iptocc.country_code(ip)
    except Exception:  # private, loopback or malformed addresses have no country
        country = None
    started = session_started_at(principal)
    return Origin(principal.session_id, device[:128] if device else None, ip, country or None, started)


OriginDep = Annotated[Origin, Depends(origin)]
