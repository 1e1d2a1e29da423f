"""A real statement uploads from the portal: a 2 MB phone photo is taken, read in memory only (no
temporary file, not even Starlette's spool), an 11 MB file gets a page saying the 10 MB limit in
the customer's language, and a forged form is refused before the file is read.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import starlette.formparsers

from tests.portal.conftest import CasePortal
from tests.portal.test_case_pages import held_case
from tests.verification import documents_support as docs

MEGABYTE = 1024 * 1024


@pytest.fixture
def temporary_files(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every temporary file anything in the process opens (the stdlib's makers, and the one
    Starlette's form parser imported for itself), recorded and still made."""
    opened: list[str] = []

    def recording(name: str, make: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            opened.append(name)
            return make(*args, **kwargs)

        return wrapper

    for name in ("SpooledTemporaryFile", "TemporaryFile", "NamedTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, recording(name, getattr(tempfile, name)))
    monkeypatch.setattr(
        starlette.formparsers,
        "SpooledTemporaryFile",
        recording("starlette spool", starlette.formparsers.SpooledTemporaryFile),
    )
    return opened


def send(
    portal: CasePortal, case_id: str, content: bytes, *, csrf_token: str | None = None, language: str = "en"
) -> httpx.Response:
    return portal.browser.post(
        f"/cases/{case_id}/documents",
        data={"csrf_token": csrf_token or portal.csrf(f"/cases/{case_id}")},
        files={"file": ("IMG_2041.jpg", content, "image/jpeg")},
        headers={"accept": "text/html", "accept-language": language},
        follow_redirects=False,
    )


def test_a_two_megabyte_phone_photo_is_taken_and_never_touches_the_disk(
    case_portal: CasePortal, temporary_files: list[str]
) -> None:
    account_id, case_id = held_case(case_portal)
    photo = docs.phone_photo("ご利用明細書", "カード番号 **** **** **** 4242", "Name: Yuki Tanaka")
    assert 2 * MEGABYTE < len(photo) < 3 * MEGABYTE

    answer = send(case_portal, case_id, photo)

    assert answer.status_code == 303, answer.text[:500]
    assert answer.headers["location"] == f"/cases/{case_id}?notice=uploaded"
    [document] = case_portal.verification.case(account_id, case_id)["documents"]
    assert document["content_type"] == "image/jpeg"
    assert temporary_files == []


@pytest.mark.parametrize(
    ("language", "title", "limit"),
    [("en", "The file is too large", "10 MB"), ("ja", "ファイルが大きすぎます", "10 MB")],
)
def test_an_eleven_megabyte_file_gets_a_page_saying_the_limit(
    case_portal: CasePortal, language: str, title: str, limit: str
) -> None:
    account_id, case_id = held_case(case_portal)

    answer = send(case_portal, case_id, b"\xff\xd8\xff" + b"p" * (11 * MEGABYTE), language=language)

    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert title in answer.text and limit in answer.text and '"code"' not in answer.text
    assert case_portal.verification.case(account_id, case_id)["documents"] == []


def test_a_file_just_over_the_limit_is_stopped_while_it_is_read(case_portal: CasePortal) -> None:
    """The body's length is within the form's envelope, the file itself is one byte too many: the
    bounded parser stops there and the page says so."""
    account_id, case_id = held_case(case_portal)

    answer = send(case_portal, case_id, b"\xff\xd8\xff" + b"p" * (10 * MEGABYTE - 2))

    assert answer.status_code == 413 and "The file is too large" in answer.text
    assert case_portal.verification.case(account_id, case_id)["documents"] == []


def test_a_forged_upload_is_refused_before_the_file_is_read(
    case_portal: CasePortal, temporary_files: list[str]
) -> None:
    account_id, case_id = held_case(case_portal)

    answer = send(case_portal, case_id, docs.phone_photo("Statement"), csrf_token="0" * 64)

    assert answer.status_code == 403 and "This form has expired" in answer.text
    assert case_portal.verification.case(account_id, case_id)["documents"] == []
    assert temporary_files == []


def test_the_case_page_tells_the_script_the_limit_and_has_the_messages_it_shows(case_portal: CasePortal) -> None:
    """portal.js refuses an oversize file before sending it, and on any failure shows one of these
    messages with the form ready again (instead of staying on "Sending")."""
    _account_id, case_id = held_case(case_portal)

    page = case_portal.browser.get(f"/cases/{case_id}", headers={"accept-language": "ja"})

    assert f'data-max-bytes="{10 * MEGABYTE}"' in page.text
    assert 'id="upload-too-large"' in page.text and "ファイルが10 MBを超えています" in page.text
    assert 'id="upload-failed"' in page.text and "明細書を送信できませんでした" in page.text
