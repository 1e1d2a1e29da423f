"""Which address a request is counted against: a client cannot choose it by writing a header."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from mamori_common.network import resolve_client_ip

TRUSTED = ["127.0.0.1/32", "10.0.0.0/8"]
public_ipv4 = st.ip_addresses(v=4).filter(lambda ip: ip.is_global).map(str)


def test_the_socket_peer_is_the_client_when_no_proxy_is_trusted() -> None:
    assert resolve_client_ip("198.51.100.7", "1.2.3.4", TRUSTED) == "198.51.100.7"


def test_a_trusted_proxy_names_the_client() -> None:
    assert resolve_client_ip("127.0.0.1", "198.51.100.7", TRUSTED) == "198.51.100.7"


def test_a_chain_of_trusted_proxies_is_walked_from_the_right() -> None:
    assert resolve_client_ip("127.0.0.1", "198.51.100.7, 10.1.2.3", TRUSTED) == "198.51.100.7"


def test_a_garbled_hop_stops_the_walk() -> None:
    assert resolve_client_ip("127.0.0.1", "evil, 10.1.2.3", TRUSTED) == "10.1.2.3"


@given(spoofed=st.lists(public_ipv4, min_size=1, max_size=5), real=public_ipv4)
def test_a_client_cannot_pick_its_address_by_prepending_hops(spoofed: list[str], real: str) -> None:
    # The client sends its own X-Forwarded-For; the trusted gateway appends the real peer.
    header = ", ".join([*spoofed, real])
    assert resolve_client_ip("127.0.0.1", header, TRUSTED) == real


@given(peer=public_ipv4, header=st.text(max_size=60))
def test_an_untrusted_peer_is_always_the_answer(peer: str, header: str) -> None:
    assert resolve_client_ip(peer, header, TRUSTED) == peer
    ipaddress.ip_address(resolve_client_ip(peer, header, TRUSTED))
