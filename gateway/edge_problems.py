"""The answers an edge gives itself, when no service can: one list for both edges.

The Python gateway raises these, and the nginx configuration returns the same documents (same
status, ``code`` and title), so a client cannot tell which edge is in front of the services.
They carry no ``instance``: nginx cannot put a path into JSON safely.
"""

from __future__ import annotations

from mamori_common import front_door
from mamori_common.problems import Problem

MALFORMED_PATH = Problem(400, "malformed_path", "The path has dot segments or characters no client sends.")
MALFORMED_REQUEST = Problem(400, "malformed_request", "The request cannot be forwarded as HTTP/1.1.")
NOT_FOUND = Problem(404, "not_found", "No public route has this path.")
#: A full card number in the path or the query: refused at the edge, before it is logged or forwarded.
CARD_NUMBER_IN_TARGET = Problem(
    422,
    "card_number_visible",
    "The address holds what looks like a full card number, so it was not sent on. Never put a card "
    "number in an address.",
    detail_ja="アドレスにカード番号と思われる数字が含まれているため、送信しませんでした。"
    "カード番号はアドレスに含めないでください。",
)
BODY_TOO_LARGE = front_door.BODY_TOO_LARGE
RATE_LIMITED = Problem(
    429, "rate_limited", "Too many requests from this address; try again shortly.", headers={"Retry-After": "1"}
)
SERVICE_UNAVAILABLE = Problem(502, "service_unavailable", "The service is unavailable.")
GATEWAY_BUSY = Problem(
    503, "gateway_busy", "Too many requests are waiting for the service.", headers={"Retry-After": "1"}
)
GATEWAY_TIMEOUT = Problem(504, "gateway_timeout", "The service did not answer in time.")

#: What nginx answers itself, by status (its ``error_page`` targets).
NGINX_OWN_ANSWERS: dict[int, Problem] = {
    400: MALFORMED_REQUEST,
    404: NOT_FOUND,
    413: BODY_TOO_LARGE,
    429: RATE_LIMITED,
    502: SERVICE_UNAVAILABLE,
    503: GATEWAY_BUSY,
    504: GATEWAY_TIMEOUT,
}

#: What a browser gets from either edge for a body over the limit on a portal page (a statement
#: over 10 MB sent from the case page): a page in both languages saying the limit, never the JSON
#: problem (the edge does not know the customer's language; the page carries both).
PAGE_TYPE = "text/html; charset=utf-8"
TOO_LARGE_PAGE = (
    '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>ファイルが大きすぎます / The file is too large</title></head><body>"
    "<h1>ファイルが大きすぎます</h1>"
    "<p>送れるファイルは10 MBまでです。何も保存していません。小さめのスキャンや写真を送ってください。</p>"
    '<h1 lang="en">The file is too large</h1>'
    '<p lang="en">Files of at most 10 MB can be sent. Nothing was kept. Please send a smaller scan or photo.</p>'
    '<p><a href="/cases">ケース一覧へ戻る / Back to your cases</a></p>'
    "</body></html>"
)
