"""Which edge ``mamori run`` starts (infra/edge.py): MAMORI_EDGE against what is installed."""

from __future__ import annotations

import pytest

from infra.edge import choose_edge


@pytest.mark.parametrize(
    ("wanted", "nginx", "edge"),
    [
        ("auto", "/usr/sbin/nginx", "nginx"),
        ("auto", None, "python"),
        ("nginx", "/usr/sbin/nginx", "nginx"),
        ("python", "/usr/sbin/nginx", "python"),
        ("python", None, "python"),
    ],
)
def test_the_edge_follows_the_setting_and_what_is_installed(wanted: str, nginx: str | None, edge: str) -> None:
    assert choose_edge(wanted, nginx) == edge


def test_insisting_on_nginx_without_it_says_where_it_was_looked_for() -> None:
    with pytest.raises(RuntimeError, match="/usr/sbin"):
        choose_edge("nginx", None)
