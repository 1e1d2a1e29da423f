"""The one shape of an id in a public path, declared where it is enforced.

Every id Mamori mints is a hex UUID (32 characters); staff and tests name a few by hand
(``c-1``). What a path segment may hold is narrower than "any string": the edges refuse dot
segments, backslashes, control characters and percent-encoded slashes before routing (400
``malformed_path``), and a ``/`` would name another route. Declaring the id as
``[A-Za-z0-9_-]{1,64}`` in the OpenAPI says exactly what a client may send, and FastAPI checks the
same pattern (422 ``validation_error``), so no schema-valid id is refused by an edge and no id the
contract refuses reaches a handler.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
ID_MAX_LENGTH = 64


def path_id(description: str | None = None) -> Any:
    """A ``Path(...)`` parameter for an id: ``order_id: Annotated[str, path_id("The order.")]``."""
    return Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN, description=description)


#: An id path parameter with no description of its own.
PathId = Annotated[str, path_id()]
