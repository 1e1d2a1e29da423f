"""What a scanned statement meets on a payment-verification checklist.

The statement item is ``received`` when the held card's last 4 digits show masked on it, and
``rejected`` (``card_last4_mismatch``) when only another card's do. Name, address and phone are
``received`` when found; what is not found stays as it was, so the customer sees exactly which
item is still missing. Without a held card on file the statement is received for a person to check.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.verification.cases.checklist import ItemStatus
from services.verification.scanning.statement import StatementFindings


@dataclass(frozen=True)
class ItemUpdate:
    code: str
    status: ItemStatus
    reason_code: str | None = None


def checklist_updates(findings: StatementFindings, card_last4: str | None) -> list[ItemUpdate]:
    updates: list[ItemUpdate] = []
    if card_last4 is None or card_last4 in findings.last4:
        updates.append(ItemUpdate("statement", ItemStatus.received))
    elif findings.last4:
        updates.append(ItemUpdate("statement", ItemStatus.rejected, "card_last4_mismatch"))
    else:
        updates.append(ItemUpdate("statement", ItemStatus.rejected, "statement_unreadable"))
    if findings.name:
        updates.append(ItemUpdate("billing_name", ItemStatus.received))
    if findings.address:
        updates.append(ItemUpdate("billing_address", ItemStatus.received))
    if findings.phone:
        updates.append(ItemUpdate("cardholder_phone", ItemStatus.received))
    return updates
