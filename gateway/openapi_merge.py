"""One OpenAPI 3.1 document for the whole public API, merged from the services' own.

Other systems and the tests find operations by ``operationId``, so operation ids are never
touched. Component names are: when two services define a component of the same name with
different content, each of them gets its copy prefixed with its name (``auth_Money``,
``orders_Money``) and every ``$ref`` inside that service's document follows, so neither service's
operations end up pointing at the other's shape. Identical components are kept once.

A path is taken only from the service the gateway routes it to, and ``/internal/...`` paths are
left out: the document describes what can be reached through the gateway, nothing else.
"""

from __future__ import annotations

import copy
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gateway.routing import is_internal, service_for

logger = logging.getLogger("mamori.gateway.openapi")

Document = dict[str, Any]
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
MISSING_KEY = "x-mamori-missing-services"
SERVICE_KEY = "x-mamori-service"


def merge_documents(
    documents: Mapping[str, Document],
    *,
    missing: Sequence[str] = (),
    owner: Callable[[str], str] = service_for,
    title: str = "Mamori API",
    version: str = "0.1.0",
) -> Document:
    """Merge the services' documents (keyed by service name, in the order to list them)."""
    docs = {service: copy.deepcopy(document) for service, document in documents.items()}
    _prefix_clashing_components(docs)
    merged: Document = {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "The public API of every Mamori service, as reached through the gateway.",
        },
        "paths": {},
        "components": {},
        "tags": [],
    }
    tag_names: set[str] = set()
    operation_ids: dict[str, str] = {}
    duplicates: list[str] = []
    for service, document in docs.items():
        info = document.get("info") or {}
        _add_tag(
            merged, tag_names, {"name": service, "description": info.get("description") or info.get("title") or service}
        )
        for tag in document.get("tags") or []:
            if isinstance(tag, dict) and "name" in tag:
                _add_tag(merged, tag_names, tag)
        for path, item in (document.get("paths") or {}).items():
            if is_internal(path) or owner(path) != service:
                continue
            for method, operation in item.items():
                if method not in HTTP_METHODS or not isinstance(operation, dict):
                    continue
                if not operation.get("tags"):
                    operation["tags"] = [service]
                operation[SERVICE_KEY] = service
                for tag in operation["tags"]:
                    _add_tag(merged, tag_names, {"name": tag})
                operation_id = operation.get("operationId")
                if operation_id in operation_ids:
                    duplicates.append(operation_id)
                    logger.warning(
                        "duplicate operationId",
                        extra={"operation_id": operation_id, "services": [operation_ids[operation_id], service]},
                    )
                elif operation_id:
                    operation_ids[operation_id] = service
            merged["paths"].setdefault(path, {}).update(item)
        for kind, components in (document.get("components") or {}).items():
            if isinstance(components, dict):
                merged["components"].setdefault(kind, {}).update(components)
    if duplicates:
        merged["x-mamori-duplicate-operation-ids"] = sorted(set(duplicates))
    if missing:
        merged[MISSING_KEY] = list(missing)
    return merged


def _add_tag(merged: Document, seen: set[str], tag: Mapping[str, Any]) -> None:
    if tag["name"] not in seen:
        seen.add(tag["name"])
        merged["tags"].append(dict(tag))


def _prefix_clashing_components(docs: dict[str, Document]) -> None:
    """Rename, service by service, every component whose name another service uses for
    different content. Renaming rewrites references, which can make two other components
    differ in turn, so this repeats until nothing clashes (each round only adds prefixes, so it
    ends)."""
    for _ in range(1 + sum(_component_count(document) for document in docs.values())):
        versions: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
        for service, document in docs.items():
            for kind, components in (document.get("components") or {}).items():
                if isinstance(components, dict):
                    for name, value in components.items():
                        versions[(kind, name)][service] = json.dumps(value, sort_keys=True)
        renames: dict[str, dict[tuple[str, str], str]] = defaultdict(dict)
        for (kind, name), by_service in versions.items():
            if len(set(by_service.values())) > 1:
                for service in by_service:
                    renames[service][(kind, name)] = _free_name(docs[service], kind, f"{service}_{name}")
        if not renames:
            return
        for service, mapping in renames.items():
            _rename_components(docs[service], mapping)
    raise RuntimeError("component names kept clashing")  # pragma: no cover - bounded above


def _component_count(document: Document) -> int:
    return sum(len(value) for value in (document.get("components") or {}).values() if isinstance(value, dict))


def _free_name(document: Document, kind: str, wanted: str) -> str:
    taken = (document.get("components") or {}).get(kind) or {}
    name, counter = wanted, 2
    while name in taken:
        name, counter = f"{wanted}_{counter}", counter + 1
    return name


def _rename_components(document: Document, mapping: Mapping[tuple[str, str], str]) -> None:
    components = document["components"]
    for (kind, old), new in mapping.items():
        components[kind] = {(new if name == old else name): value for name, value in components[kind].items()}
    refs = {f"#/components/{kind}/{old}": f"#/components/{kind}/{new}" for (kind, old), new in mapping.items()}
    _rewrite_refs(document, refs)
    schemes = {old: new for (kind, old), new in mapping.items() if kind == "securitySchemes"}
    if schemes:
        holders = [document] + [
            operation
            for item in (document.get("paths") or {}).values()
            for method, operation in item.items()
            if method in HTTP_METHODS and isinstance(operation, dict)
        ]
        for holder in holders:
            if isinstance(holder.get("security"), list):
                holder["security"] = [
                    {schemes.get(name, name): scopes for name, scopes in requirement.items()}
                    for requirement in holder["security"]
                ]


def _rewrite_refs(node: Any, refs: Mapping[str, str]) -> None:
    """Point every ``$ref`` at the renamed components."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in refs:
            node["$ref"] = refs[ref]
        for value in node.values():
            _rewrite_refs(value, refs)
    elif isinstance(node, list):
        for value in node:
            _rewrite_refs(value, refs)
