"""The kit's cursor pagination (``mamori_common/pagination.py``) and its place in every list's contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Integer, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from mamori_common.db import UTCDateTime
from mamori_common.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    CursorSigner,
    PageRequest,
    Position,
    paginate,
    signer_for,
)
from mamori_common.problems import Problem

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)

#: Every list of the public contract: (service, operationId, the response's list field).
LISTS = (
    ("auth", "listMessages", "items"),
    ("auth", "listSecurityEvents", "items"),
    ("auth", "listSessions", "sessions"),
    ("verification", "listCases", "items"),
    ("verification", "listReviewQueue", "items"),
    ("orders", "listOrders", "items"),
    ("orders", "listRefunds", "items"),
)


class _Base(DeclarativeBase):
    """The metadata of the one table these tests page through."""


class _Row(_Base):
    __tablename__ = "rows"
    id: Mapped[str] = mapped_column(String(8), primary_key=True)
    owner: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    n: Mapped[int] = mapped_column(Integer, default=0)


def _refused(call: Any) -> None:
    with pytest.raises(Problem) as refused:
        call()
    assert (refused.value.status, refused.value.code) == (400, "invalid_cursor")


def test_a_cursor_reads_back_only_in_the_scope_and_with_the_key_it_was_issued_for() -> None:
    signer = signer_for("service-secret")
    cursor = signer.issue("listOrders:hana", Position(T0, "o1"))

    assert signer.read("listOrders:hana", cursor) == Position(T0, "o1")
    assert signer_for("service-secret").read("listOrders:hana", cursor) == Position(T0, "o1")  # any replica
    _refused(lambda: signer.read("listOrders:ken", cursor))
    _refused(lambda: signer.read("listCases:hana", cursor))
    _refused(lambda: signer_for("another-secret").read("listOrders:hana", cursor))
    body, _, mac = cursor.partition(".")
    forged_body = CursorSigner(b"x").issue("listOrders:hana", Position(T0 - timedelta(days=1), "o0")).partition(".")[0]
    _refused(lambda: signer.read("listOrders:hana", f"{forged_body}.{mac}"))
    for garbage in ("", ".", "abc", "!!.!!", f"{body}."):
        _refused(lambda garbage=garbage: signer.read("listOrders:hana", garbage))


def test_integer_ids_survive_the_cursor() -> None:
    signer = signer_for("s")
    assert signer.read("x", signer.issue("x", Position(T0, 42))) == Position(T0, 42)


def _session() -> Session:
    engine = create_engine("sqlite://")
    _Base.metadata.create_all(engine)
    return Session(engine)


def _pages(db: Session, owner: str, limit: int, *, descending: bool, between: Any = None) -> list[str]:
    signer = signer_for("s")
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = paginate(
            db,
            select(_Row).where(_Row.owner == owner),
            page=PageRequest(limit, cursor, signer),
            scope=f"rows:{owner}",
            order=(_Row.at, _Row.id),
            key=lambda row: Position(row.at, row.id),
            descending=descending,
        )
        seen.extend(row.id for row in page.items)
        if page.next is None:
            return seen
        cursor = page.next
        if between is not None:
            between()


def test_items_sharing_a_time_are_each_paged_once_by_id_in_both_directions() -> None:
    db = _session()
    ids = [f"r{n:02d}" for n in range(11)]
    for n, row_id in enumerate(ids):
        db.add(_Row(id=row_id, owner="hana", at=T0 + timedelta(seconds=n // 4)))
    db.add(_Row(id="k00", owner="ken", at=T0))
    db.commit()
    newest_first = sorted(ids, key=lambda row_id: (int(row_id[1:]) // 4, row_id), reverse=True)

    for limit in (1, 2, 3, 4, 10, 11, 12):
        assert _pages(db, "hana", limit, descending=True) == newest_first
        assert _pages(db, "hana", limit, descending=False) == newest_first[::-1]


def test_rows_inserted_while_paging_newest_first_never_show_twice_nor_push_others_out() -> None:
    db = _session()
    for n in range(9):
        db.add(_Row(id=f"r{n}", owner="hana", at=T0 + timedelta(minutes=n)))
    db.commit()
    added = iter(range(100))

    def insert() -> None:
        n = next(added)
        db.add(_Row(id=f"new{n}", owner="hana", at=T0 + timedelta(hours=1, minutes=n)))
        db.commit()

    assert _pages(db, "hana", 2, descending=True, between=insert) == [f"r{n}" for n in range(8, -1, -1)]


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each service's OpenAPI document, as its app declares it."""
    from services.auth.config import AuthSettings
    from services.auth.main import create_app as auth_app
    from services.orders.config import OrdersSettings
    from services.orders.main import create_app as orders_app
    from services.verification.config import VerificationSettings
    from services.verification.main import create_app as verification_app

    folder: Path = tmp_path_factory.mktemp("openapi")
    return {
        "auth": auth_app(AuthSettings(data_dir=folder / "auth"), run_background=False).openapi(),
        "verification": verification_app(
            VerificationSettings(data_dir=folder / "verification"), run_background=False
        ).openapi(),
        "orders": orders_app(OrdersSettings(data_dir=folder / "orders"), run_background=False).openapi(),
    }


def _operation(document: dict[str, Any], operation_id: str) -> dict[str, Any]:
    for methods in document["paths"].values():
        for operation in methods.values():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return operation
    raise AssertionError(f"{operation_id} is not in the document")


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


@pytest.mark.parametrize(("service", "operation_id", "field"), LISTS)
def test_every_list_declares_its_limit_cursor_and_next(
    documents: dict[str, dict[str, Any]], service: str, operation_id: str, field: str
) -> None:
    document = documents[service]
    operation = _operation(document, operation_id)
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"] if parameter["in"] == "query"}

    limit = parameters["limit"]["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, MAX_LIMIT, DEFAULT_LIMIT)
    assert "offset" not in parameters
    cursor = parameters["cursor"]["schema"]
    assert any(option.get("maxLength") for option in cursor.get("anyOf", [cursor]))
    assert {"400", "422"} <= set(operation["responses"])
    body = _resolve(document, operation["responses"]["200"]["content"]["application/json"]["schema"])
    assert {field, "next"} <= set(body["properties"])
