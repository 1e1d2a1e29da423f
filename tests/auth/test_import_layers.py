"""No import circle inside auth, and sign-in never imports the passkey domain.

``config.py`` and ``passkeys/policy.py`` used to import each other (the settings ran the relying
party check, the rules typed the settings): the check now lives in ``passkeys/relying_party.py``,
which imports nothing of auth. The passkey domain builds on sign-in (its passkey-alone sign-in
goes through the door, ``signin/factors.py``), so sign-in knows the passkey only as one of the
step-up methods it registered (``signin/methods``). Every import counts, at the top of a module,
inside a function or under ``TYPE_CHECKING``.
"""

from __future__ import annotations

from tests.support.import_graph import circles, import_graph

PACKAGE = "services.auth"


def test_no_module_of_auth_imports_itself_round_a_circle() -> None:
    graph = import_graph(PACKAGE)
    assert f"{PACKAGE}.config" in graph and f"{PACKAGE}.passkeys.policy" in graph
    assert circles(graph) == []


def test_sign_in_imports_nothing_of_the_passkey_domain() -> None:
    graph = import_graph(PACKAGE)
    signin = {name: targets for name, targets in graph.items() if name.startswith(f"{PACKAGE}.signin")}
    assert f"{PACKAGE}.signin.step_up" in signin
    reaching = {
        name: sorted(t for t in targets if t.startswith(f"{PACKAGE}.passkeys")) for name, targets in signin.items()
    }
    assert {name: targets for name, targets in reaching.items() if targets} == {}
