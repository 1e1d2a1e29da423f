"""Where the access token lives: remembered per refresh token, exchanged once for pages loaded
together, so auth's reuse detection never ends a session a browser merely used twice at once."""

from __future__ import annotations

import asyncio
import itertools

from portal.pages.signin import pack_challenge, unpack_challenge
from portal.session import Exchange, TokenKeeper, Tokens
from portal.web import safe_next


def _exchanger() -> tuple[list[str], Exchange]:
    presented: list[str] = []
    counter = itertools.count(1)

    async def exchange(refresh_token: str) -> Tokens | None:
        presented.append(refresh_token)
        await asyncio.sleep(0.01)  # a round trip to auth, during which others arrive
        number = next(counter)
        return Tokens(f"access-{number}", f"refresh-{number}", use_until=float("inf"))

    return presented, exchange


def test_pages_loaded_at_once_share_one_exchange() -> None:
    keeper = TokenKeeper()
    presented, exchange = _exchanger()

    async def load_five_pages() -> list[Tokens | None]:
        return await asyncio.gather(*(keeper.tokens_for("refresh-0", exchange) for _ in range(5)))

    results = asyncio.run(load_five_pages())

    assert presented == ["refresh-0"]
    assert {tokens.access_token for tokens in results if tokens} == {"access-1"}


def test_a_browser_still_sending_the_old_token_is_not_taken_for_a_thief() -> None:
    keeper = TokenKeeper()
    presented, exchange = _exchanger()
    asyncio.run(keeper.tokens_for("refresh-0", exchange))
    keeper.expire("refresh-0")

    again = asyncio.run(keeper.tokens_for("refresh-0", exchange))

    assert presented == ["refresh-0", "refresh-1"], "the newest token of the chain is exchanged, not the old one"
    assert again is not None and again.refresh_token == "refresh-2"


def test_a_refused_exchange_forgets_the_session() -> None:
    keeper = TokenKeeper()

    async def refused(_refresh_token: str) -> Tokens | None:
        return None

    assert asyncio.run(keeper.tokens_for("refresh-0", refused)) is None


def test_sign_out_forgets_every_name_of_the_session() -> None:
    keeper = TokenKeeper()
    presented, exchange = _exchanger()
    asyncio.run(keeper.tokens_for("refresh-0", exchange))

    keeper.forget("refresh-1")
    asyncio.run(keeper.tokens_for("refresh-0", exchange))

    assert presented == ["refresh-0", "refresh-0"]


def test_the_memory_is_bounded() -> None:
    keeper = TokenKeeper(capacity=4)
    for number in range(10):
        keeper.remember(None, Tokens(f"a{number}", f"r{number}", float("inf")))
    assert len(keeper._tokens) == 4


def test_only_paths_on_this_site_are_followed_after_sign_in() -> None:
    assert safe_next("/security") == "/security"
    for hostile in (
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "",
        None,
        "/" + "a" * 300,
        "/x\r\nSet-Cookie: a=b",
    ):
        assert safe_next(hostile) == "/account"


def test_a_tampered_step_up_cookie_is_ignored() -> None:
    packed = pack_challenge("ch-1", ["email_code", "evil"], "//evil.example", "hana@example.com")
    challenge = unpack_challenge(packed)
    assert challenge == {"id": "ch-1", "methods": ["email_code"], "next": "/account", "email": "hana@example.com"}
    for broken in ("", "not-base64!", "eyJ9", "W10=", "x" * 5000):
        assert unpack_challenge(broken) is None
