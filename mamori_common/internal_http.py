"""Calls from one Mamori process to another service, spread over every replica of it.

Every internal call (orders asking auth for a standing, the outbox delivering events, the portal
calling the public APIs) goes through :class:`ServiceReplicas`: the replicas of each service
come from ``MAMORI_<SERVICE>_UPSTREAMS`` (``CommonSettings.upstreams``), are handed out round
robin, and one that refused a connection, timed out or answered 5xx is passed over for
``MAMORI_REPLICA_COOLDOWN_SECONDS`` (passive health, the gateway's :class:`ReplicaSet`). Calling
only the first replica made every ``placeOrder`` fail while auth's first replica was down and
held a freeze's cancellations until orders' first replica came back.

When a call fails on one replica the next is tried at once:

- always when the request never reached the replica (connection refused or not accepted in
  time): nothing can have happened there;
- after a 5xx, a broken connection or a read timeout only when the caller says a repeat is
  harmless (``retry_in_flight``): a GET, or an event delivery (the subscriber's inbox applies an
  event once). A customer's sign-in or order is not sent twice because one replica died holding it.

The last replica's answer (a 5xx) or error is the caller's to judge; nothing here retries later.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import httpx

from mamori_common.replicas import Replica, ReplicaSet
from mamori_common.settings import CommonSettings

#: The request never reached the replica: another one may always be asked.
NEVER_SENT: tuple[type[httpx.TransportError], ...] = (httpx.ConnectError, httpx.ConnectTimeout)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ServiceReplicas:
    """The replica set of every service this process calls, with their health, by name."""

    def __init__(self, urls_of: Callable[[str], Sequence[str]], cooldown: float = 5.0) -> None:
        self._urls_of = urls_of
        self._cooldown = cooldown
        self._sets: dict[str, ReplicaSet] = {}

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> ServiceReplicas:
        return cls(settings.upstreams, settings.replica_cooldown_seconds)

    def of(self, service: str) -> ReplicaSet:
        replicas = self._sets.get(service)
        if replicas is None:
            replicas = self._sets[service] = ReplicaSet(service, self._urls_of(service), self._cooldown)
        return replicas


def _judge(
    replicas: ReplicaSet, replica: Replica, outcome: httpx.Response | httpx.TransportError, retry_in_flight: bool
) -> bool:
    """Mark the replica's health from one attempt; whether to try the next replica."""
    if isinstance(outcome, httpx.Response):
        if outcome.status_code < 500:
            replicas.mark_up(replica)
            return False
        replicas.mark_down(replica)
        return retry_in_flight
    replicas.mark_down(replica)
    return retry_in_flight or isinstance(outcome, NEVER_SENT)


async def send(
    client: httpx.AsyncClient,
    replicas: ReplicaSet,
    method: str,
    path: str,
    *,
    retry_in_flight: bool | None = None,
    **request: Any,
) -> httpx.Response:
    """``method path`` on the first replica that answers (see the module's rules); raises the last
    :class:`httpx.TransportError` when none did. ``retry_in_flight`` defaults to the method's
    idempotency."""
    repeatable = method.upper() in IDEMPOTENT_METHODS if retry_in_flight is None else retry_in_flight
    outcome: httpx.Response | httpx.TransportError | None = None
    for replica in replicas.candidates():
        try:
            outcome = await client.request(method, replica.url + path, **request)
        except httpx.TransportError as exc:
            outcome = exc
        if not _judge(replicas, replica, outcome, repeatable):
            break
    return _result(outcome)


def send_sync(
    client: httpx.Client,
    replicas: ReplicaSet,
    method: str,
    path: str,
    *,
    retry_in_flight: bool | None = None,
    **request: Any,
) -> httpx.Response:
    """:func:`send` for a synchronous caller (a route running in the thread pool)."""
    repeatable = method.upper() in IDEMPOTENT_METHODS if retry_in_flight is None else retry_in_flight
    outcome: httpx.Response | httpx.TransportError | None = None
    for replica in replicas.candidates():
        try:
            outcome = client.request(method, replica.url + path, **request)
        except httpx.TransportError as exc:
            outcome = exc
        if not _judge(replicas, replica, outcome, repeatable):
            break
    return _result(outcome)


def _result(outcome: httpx.Response | httpx.TransportError | None) -> httpx.Response:
    if outcome is None:  # a ReplicaSet is never empty
        raise httpx.ConnectError("no replica to call")
    if isinstance(outcome, httpx.TransportError):
        raise outcome
    return outcome
