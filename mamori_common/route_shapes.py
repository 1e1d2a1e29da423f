"""Each route of an app as the request checks need it: its path, methods and what body it reads.

FastAPI 0.163 keeps included routers nested (``_IncludedRouter``) and works out each route's full
path lazily, so ``app.router.routes`` no longer lists the routes. This walks them once per app
(routes do not change after startup) and keeps the flat table on the app.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import params

BodyKind = Literal["json", "form"] | None
_CACHE_KEY = "_mamori_route_shapes"


@dataclass(frozen=True)
class RouteShape:
    path_regex: re.Pattern[str]
    methods: frozenset[str]
    #: ``json``, ``form`` (a form or a file) or None (the route reads no body through FastAPI).
    body: BodyKind


def _walk(routes: Any) -> Any:
    for route in routes:
        candidates = getattr(route, "effective_candidates", None)
        if callable(candidates):
            yield from _walk(candidates())
        else:
            yield route


def _body_kind(route: Any) -> BodyKind:
    field = getattr(getattr(route, "original_route", route), "body_field", None)
    if field is None:
        return None
    return "form" if isinstance(field.field_info, params.Form) else "json"  # File is a Form


def route_shapes(app: Any) -> tuple[RouteShape, ...]:
    """The flat route table of ``app`` (a FastAPI or Starlette app), built on first use."""
    cached: tuple[RouteShape, ...] | None = getattr(app, _CACHE_KEY, None)
    if cached is not None:
        return cached
    router = getattr(app, "router", None)
    shapes = tuple(
        RouteShape(route.path_regex, frozenset(route.methods or ()), _body_kind(route))
        for route in _walk(getattr(router, "routes", ()))
        if getattr(route, "path_regex", None) is not None and getattr(route, "methods", None)
    )
    setattr(app, _CACHE_KEY, shapes)
    return shapes


def shapes_for_path(app: Any, path: str) -> list[RouteShape]:
    return [shape for shape in route_shapes(app) if shape.path_regex.match(path)]
