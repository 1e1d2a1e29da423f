"""The message a customer gets at each step of a case: what happened, what is needed, by when.

Built as a ``notify`` event with auth's ``notice`` template (both languages); the promised time
travels as ISO-8601 UTC under ``due_at`` and as the ``{due_at}`` placeholder in the texts, so
auth prints it in the customer's own time zone.
"""

from __future__ import annotations

from typing import Any

from services.verification import catalogue
from services.verification.cases import checklist
from services.verification.cases.models import Case
from services.verification.cases.states import OPEN_STATES


def _items(codes: list[str], language: str) -> str:
    separator = "、" if language == "ja" else ", "
    return separator.join(getattr(catalogue.CHECKLIST_ITEMS[code].label, language) for code in codes)


def body(case: Case, step: str, language: str, fields: dict[str, Any]) -> str:
    """The text for ``language``: the case number, the step, then what is met and still needed."""
    lines = catalogue.NEEDED_LINES
    kind = getattr(catalogue.KIND_NAMES[case.kind], language)
    parts = [getattr(lines["number"], language).format(number=case.number, kind=kind), ""]
    parts.append(getattr(catalogue.STEPS[step], language).format(**fields))
    if case.items and case.case_state in OPEN_STATES:
        met = [item.code for item in case.items if item.status in checklist.MET]
        needed = checklist.outstanding(case.items)
        parts.append("")
        if met:
            parts.append(getattr(lines["met"], language).format(items=_items(met, language)))
        if needed:
            parts.append(getattr(lines["needed"], language).format(items=_items(needed, language)))
            for code in needed:
                parts.append(f"- {getattr(catalogue.CHECKLIST_ITEMS[code].how, language)}")
    if case.due_at is not None and case.case_state in OPEN_STATES:
        parts.append("")
        parts.append(getattr(lines["due"], language))  # keeps the {due_at} placeholder for auth
    return "\n".join(parts)


def notify_payload(case: Case, step: str, subject: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The ``notify`` payload for this step (template ``notice``)."""
    subjects = catalogue.SUBJECTS[subject]
    data: dict[str, Any] = {
        "subject_ja": subjects.ja.format(number=case.number),
        "subject_en": subjects.en.format(number=case.number),
        "body_ja": body(case, step, "ja", fields)[:10_000],
        "body_en": body(case, step, "en", fields)[:10_000],
        "case_number": case.number,
        "case_id": case.id,
    }
    if case.due_at is not None and case.case_state in OPEN_STATES:
        data["due_at"] = case.due_at.isoformat()
    return {"account_id": case.account_id, "template": "notice", "data": data}
