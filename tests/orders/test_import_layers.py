"""No import circle inside orders: each module can be read (and imported) on its own.

``cancellation/flows.py`` and ``returns/flows.py`` used to import each other (the second through
an import hidden inside a function): the facts about a line belong to ``ordering/``, undoing a
fraudulent order to ``intrusion/``, and both flows now build on those. Every import is counted,
at the top of a module or inside a function, so a circle cannot hide behind a late import.
"""

from __future__ import annotations

from tests.support.import_graph import circles, import_graph

PACKAGE = "services.orders"


def test_no_module_of_orders_imports_itself_round_a_circle() -> None:
    graph = import_graph(PACKAGE)
    assert f"{PACKAGE}.cancellation.flows" in graph and f"{PACKAGE}.returns.flows" in graph
    assert circles(graph) == []
