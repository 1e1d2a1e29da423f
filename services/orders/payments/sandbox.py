"""The built-in sandbox provider: real rules in its own tables, faults on demand for tests.

It keeps authorisations, captures, voids and refunds as a provider would: a capture never exceeds
the authorisation, a refund never exceeds what was captured and not refunded, a voided
authorisation takes nothing more, and every call is idempotent by key. Each call runs in its own
transaction (the provider is not part of ours). ``fail_next(operation, n, timeout=...)`` makes
the next ``n`` calls of an operation fail (or time out) before they change anything.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from mamori_common.db import Database, rows_changed, utcnow
from services.orders.payments.models import SandboxAuthorisation, SandboxOperation
from services.orders.payments.provider import ProviderError, ProviderUnavailable

#: Card tokens the sandbox declines, as test card numbers do at real providers.
DECLINED_TOKENS = frozenset({"tok_declined", "tok_insufficient_funds"})


class SandboxProvider:
    def __init__(self, database: Database, timeout_seconds: float = 0.05) -> None:
        self.database = database
        self.timeout_seconds = timeout_seconds
        self._faults: dict[str, list[bool]] = defaultdict(list)
        self._lock = threading.Lock()

    def fail_next(self, operation: str, times: int = 1, *, timeout: bool = False) -> None:
        """The next ``times`` calls of ``operation`` fail (``timeout``: after a delay, as a hang)."""
        with self._lock:
            self._faults[operation].extend([timeout] * times)

    def _maybe_fail(self, operation: str) -> None:
        with self._lock:
            pending = self._faults.get(operation)
            fault = pending.pop(0) if pending else None
        if fault is None:
            return
        if fault:
            time.sleep(self.timeout_seconds)
            raise ProviderUnavailable(f"sandbox {operation} timed out")
        raise ProviderUnavailable(f"sandbox {operation} failed")

    def authorise(self, key: str, card_token: str, amount: int) -> str:
        self._maybe_fail("authorise")
        if card_token in DECLINED_TOKENS:
            raise ProviderError("card_declined", "The card issuer declined the payment.")
        with self.database.session() as session:
            found = session.scalar(select(SandboxAuthorisation).where(SandboxAuthorisation.idempotency_key == key))
            if found is not None:
                return found.id
            authorisation = SandboxAuthorisation(
                idempotency_key=key, card_token=card_token, amount=amount, state="authorised", created_at=utcnow()
            )
            session.add(authorisation)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                return str(
                    session.scalar(select(SandboxAuthorisation.id).where(SandboxAuthorisation.idempotency_key == key))
                )
            return authorisation.id

    def capture(self, key: str, authorisation_id: str, amount: int) -> None:
        self._operate("capture", key, authorisation_id, amount)

    def void(self, key: str, authorisation_id: str) -> None:
        self._operate("void", key, authorisation_id, 0)

    def refund(self, key: str, authorisation_id: str, amount: int) -> None:
        self._operate("refund", key, authorisation_id, amount)

    def _operate(self, kind: str, key: str, authorisation_id: str, amount: int) -> None:
        """Record the key first (its unique index is the claim), then apply the rule in one
        conditional UPDATE: two calls racing with one key, or two keys racing on one authorisation,
        can neither apply twice nor take more than the rules allow, on SQLite or PostgreSQL."""
        self._maybe_fail(kind)
        if amount < 0:
            raise ProviderError("invalid_amount")
        with self.database.session() as session:
            try:
                with session.begin():
                    session.add(
                        SandboxOperation(
                            idempotency_key=key,
                            authorisation_id=authorisation_id,
                            kind=kind,
                            amount=amount,
                            created_at=utcnow(),
                        )
                    )
                    session.flush()
                    if not rows_changed(session.execute(_RULES[kind](authorisation_id, amount))):
                        raise ProviderError(_REFUSALS[kind])
            except IntegrityError:
                # The key is taken: the same call already happened (or the authorisation is unknown).
                session.rollback()
                if session.scalar(select(SandboxOperation.id).where(SandboxOperation.idempotency_key == key)) is None:
                    raise ProviderError("unknown_authorisation") from None


_A = SandboxAuthorisation
_RULES = {
    "capture": lambda id_, amount: (
        update(_A)
        .where(_A.id == id_, _A.state == "authorised", _A.captured + amount <= _A.amount)
        .values(captured=_A.captured + amount)
    ),
    "void": lambda id_, amount: update(_A).where(_A.id == id_).values(state="voided"),
    "refund": lambda id_, amount: (
        update(_A).where(_A.id == id_, _A.refunded + amount <= _A.captured).values(refunded=_A.refunded + amount)
    ),
}
_REFUSALS = {
    "capture": "capture_exceeds_authorisation",
    "void": "unknown_authorisation",
    "refund": "refund_exceeds_capture",
}
