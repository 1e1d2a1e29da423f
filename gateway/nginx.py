"""The nginx edge, rendered from the route table (``mamori edge nginx-config``).

Production puts a real proxy in front of the services: nginx forwards a small request for a
fraction of the Python gateway's CPU. Everything it needs to decide comes from
:mod:`gateway.routing` (prefixes, upload paths, body limits, timeouts, refused paths, sign-in
paths) and :mod:`gateway.edge_problems` (the problem documents it answers itself), so the two
edges give the same answers. What nginx does, and why each way:

- one ``upstream`` block per service, keep-alive pools (``keepalive``), passive health
  (``max_fails=1 fail_timeout=5s``, like the Python gateway's replica cool-down), one retry on the
  next replica only when the request never reached the first (``proxy_next_upstream error``);
- the client address from ``X-Forwarded-For`` only when the peer is one of
  ``MAMORI_TRUSTED_PROXIES`` (``set_real_ip_from``); upstreams get the same ``X-Forwarded-*``
  headers the Python gateway sends (the chain extended for a trusted peer, the peer alone
  otherwise), and ``X-Request-ID`` (a trusted, well-formed one, else ``$request_id``);
- the security headers on every answer, unless the service set its own; HSTS over HTTPS only;
- RFC 9457 problem documents for every error nginx answers itself;
- ``/internal/...`` and ``/metrics`` refused, dot segments and control characters refused before
  routing, uploads streamed (``proxy_request_buffering off``) and bodies capped per route;
- a coarse per-address ``limit_req`` on the sign-in paths: it only stops floods; every finer
  decision (per account, per failure, step-up) stays with auth.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gateway import edge_problems
from gateway.routing import (
    CONNECT_TIMEOUT,
    DEFAULT_ROUTE,
    LARGE_BODIES,
    OWN_PATHS,
    REFUSED_SEGMENTS,
    ROUTES,
    SIGN_IN_BURST,
    SIGN_IN_PATHS,
    SIGN_IN_RATE_PER_SECOND,
)
from gateway.security_headers import DEFAULT_CSP, HSTS, SECURITY_HEADERS
from mamori_common.problems import Problem

GATEWAY_GROUP = "gateway"
#: Below uvicorn's 5 s keep-alive, so nginx drops an idle connection before the service does.
UPSTREAM_KEEPALIVE_SECONDS = 4
UPSTREAM_KEEPALIVE_CONNECTIONS = 64
REPLICA_COOLDOWN_SECONDS = 5
#: Raw request targets nobody's browser sends: dot segments (also percent-encoded), backslashes,
#: control characters. Checked on ``$request_uri`` because ``$uri`` is already normalised.
#: 13 or more digits (ASCII, or percent-encoded full-width, Arabic-Indic or Devanagari ones) with at
#: most three separators or percent-escapes between each: what might be a card number in the raw
#: request target, path or query. nginx cannot run the detector, so it refuses what the detector
#: might call one (the Python edge runs the detector itself: ``proxy.card_number_in_target``).
_TARGET_DIGIT = r"(?:[0-9]|%ef%bc%9[0-9]|%d9%a[0-9]|%db%b[0-9]|%e0%a5%a[6-9a-f])"
CARD_LIKE_TARGET = rf"{_TARGET_DIGIT}(?:(?:[^0-9a-z%]|%[0-9a-f]{{2}}){{0,3}}{_TARGET_DIGIT}){{12,}}"
MALFORMED_TARGET = r"^[^?]*((/|%2f)(\.|%2e){1,2}(/|%2f|\?|$)|\x5c|%5c|%[01][0-9a-f]|%7f)"
REQUEST_ID_SHAPE = r"[A-Za-z0-9._-]{8,128}"


@dataclass(frozen=True)
class EdgeLayout:
    """Where nginx listens, where each service's replicas are, and what it may believe."""

    listen: str
    #: Service name (``auth``, ..., and ``gateway`` for the Python app that serves ``/healthz``,
    #: ``/openapi.json`` and ``/docs``) to ``host:port`` of each replica.
    upstreams: Mapping[str, Sequence[str]]
    trusted_proxies: Sequence[str]
    #: Folder for the pid file and temporary files (nginx needs no root with its own).
    runtime_dir: str
    access_log: str = "off"
    error_log: str = "stderr"
    workers: str = "auto"
    #: ``user`` directive: only matters when nginx starts as root (keeps it as that user).
    run_as: str | None = None
    daemon: bool = False
    extra_http: Sequence[str] = field(default_factory=tuple)


def host_port(url: str) -> str:
    """``http://auth:8000`` -> ``auth:8000``."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"nginx forwards to http:// upstreams, not {url!r}")
    return f"{parts.hostname}:{parts.port or 80}"


def _json_string(problem: Problem) -> str:
    """The problem document as an nginx string literal (single quotes; ``$`` never appears)."""
    body = json.dumps(problem.body(), separators=(",", ":"), ensure_ascii=True)
    assert "'" not in body and "$" not in body, body
    return f"'{body}'"


def _upstream(name: str, servers: Sequence[str]) -> str:
    lines = [f"    upstream mamori_{name} {{"]
    lines += [f"        server {server} max_fails=1 fail_timeout={REPLICA_COOLDOWN_SECONDS}s;" for server in servers]
    lines += [
        f"        keepalive {UPSTREAM_KEEPALIVE_CONNECTIONS};",
        f"        keepalive_timeout {UPSTREAM_KEEPALIVE_SECONDS}s;",
        "    }",
    ]
    return "\n".join(lines)


def _trust(trusted_proxies: Sequence[str]) -> str:
    """Which peers are believed, and the ``X-Forwarded-*`` values each gets."""
    real_ip = "\n".join(f"    set_real_ip_from {cidr};" for cidr in trusted_proxies)
    geo = "\n".join(f"        {cidr} 1;" for cidr in trusted_proxies)
    return f"""{real_ip}
    real_ip_header X-Forwarded-For;
    real_ip_recursive on;
    geo $realip_remote_addr $mamori_trusted_peer {{
        default 0;
{geo}
    }}
    map "$mamori_trusted_peer:$http_x_forwarded_for" $mamori_forwarded_for {{
        "~^1:(.+)$" "$1, $realip_remote_addr";
        default $realip_remote_addr;
    }}
    map "$mamori_trusted_peer:$http_x_forwarded_proto" $mamori_forwarded_proto {{
        "~*^1:\\s*https\\s*(,|$)" https;
        "~^1:." http;
        default $scheme;
    }}
    map "$mamori_trusted_peer:$http_x_forwarded_host" $mamori_forwarded_host {{
        "~^1:(.+)$" $1;
        default $http_host;
    }}
    map "$mamori_trusted_peer:$http_x_request_id" $mamori_request_id {{
        "~^1:({REQUEST_ID_SHAPE})$" $1;
        default $request_id;
    }}
    map "$mamori_trusted_peer:$http_x_real_ip" $mamori_real_ip {{
        "~^1:(.+)$" $1;
        default "";
    }}
    map "$mamori_trusted_peer:$http_forwarded" $mamori_forwarded {{
        "~^1:(.+)$" $1;
        default "";
    }}"""


def _security_headers() -> tuple[str, str]:
    """One map per header: nginx's value when the service set none, else nothing (an empty
    ``add_header`` value adds no header)."""
    maps = []
    adds = []
    for index, (name, value) in enumerate([*SECURITY_HEADERS, ("content-security-policy", DEFAULT_CSP)]):
        variable = f"$mamori_security_{index}"
        upstream = "$upstream_http_" + name.replace("-", "_")
        maps.append(f'    map {upstream} {variable} {{\n        "" "{value}";\n        default "";\n    }}')
        adds.append(f"        add_header {name} {variable} always;")
    maps.append(
        f'    map "$mamori_forwarded_proto:$upstream_http_strict_transport_security" $mamori_hsts {{\n'
        f'        "https:" "{HSTS}";\n        default "";\n    }}'
    )
    adds.append("        add_header strict-transport-security $mamori_hsts always;")
    maps.append(
        '    map "$status:$upstream_status" $mamori_retry_after {\n'
        '        "~^(429|503):$" 1;\n        default "";\n    }'
    )
    adds.append("        add_header retry-after $mamori_retry_after always;")
    adds.append("        add_header x-request-id $mamori_request_id always;")
    return "\n".join(maps), "\n".join(adds)


def _method_owner_map() -> str:
    """``$mamori_method_owner``: the upstream group that owns ``$uri`` (what the locations below
    decide, in one map), for the one request nginx refuses before any location: ``TRACE``."""
    refused = "|".join(sorted(REFUSED_SEGMENTS))
    lines = ["    map $uri $mamori_method_owner {", f"        default mamori_{DEFAULT_ROUTE.service};"]
    lines += [f"        {path} mamori_{GATEWAY_GROUP};" for path in sorted(OWN_PATHS)]
    lines.append(f'        "~*^/+({refused})(/|$)" "";')
    lines += [f'        "~^{large.path}$" mamori_{large.service};' for large in LARGE_BODIES]
    lines += [f'        "~^{re.escape(route.path)}(/|$)" mamori_{route.service};' for route in ROUTES]
    lines.append("    }")
    return "\n".join(lines)


def _method_not_allowed() -> str:
    """nginx answers ``TRACE`` itself, with an HTML 405 and no ``Allow``, before any location is
    chosen. Its ``error_page`` sends it here instead: refused and malformed paths get their usual
    problems, and every other path asks its service with ``OPTIONS`` (which no route declares):
    the service's own ``405`` problem, with the ``Allow`` its routes make, is the answer."""
    return f"""        location @problem_405 {{
            if ($request_uri ~* "{MALFORMED_TARGET}") {{
                return 400 {_json_string(edge_problems.MALFORMED_PATH)};
            }}
            if ($mamori_method_owner = "") {{
                return 404 {_json_string(edge_problems.NOT_FOUND)};
            }}
            proxy_method OPTIONS;
            proxy_pass http://$mamori_method_owner;
        }}"""


def _proxy(group: str, read_timeout: float, *, extra: Sequence[str] = ()) -> str:
    lines = [*extra, f"proxy_read_timeout {read_timeout:g}s;", f"proxy_pass http://mamori_{group};"]
    return "\n".join(f"            {line}" for line in lines)


def _page_errors() -> str:
    """The portal's locations: a body too large gets the page (the other errors stay problems).
    An ``error_page`` in a location replaces all the server's, so they are all listed again."""
    pages = [f"error_page {status} = @problem_{status};" for status in sorted(edge_problems.NGINX_OWN_ANSWERS)]
    return " ".join(page if "413" not in page else "error_page 413 = @page_413;" for page in pages)


def _locations() -> str:
    refused = "|".join(sorted(REFUSED_SEGMENTS))
    blocks = [
        f"        location ~* ^/+({refused})(/|$) {{\n            return 404 {_json_string(edge_problems.NOT_FOUND)};\n        }}"
    ]
    for large in LARGE_BODIES:
        pages = [_page_errors()] if large.service == DEFAULT_ROUTE.service else []
        blocks.append(
            f"        location ~ ^{large.path}$ {{\n            client_max_body_size {large.max_body // 1024}k;\n"
            f"{_proxy(large.service, large.read_timeout, extra=pages)}\n        }}"
        )
    limited = [f"limit_req zone=mamori_sign_in burst={SIGN_IN_BURST} nodelay;"]
    auth_timeout = next(route.read_timeout for route in ROUTES if route.service == "auth")
    for path in SIGN_IN_PATHS:
        blocks.append(f"        location = {path} {{\n{_proxy('auth', auth_timeout, extra=limited)}\n        }}")
    for path in sorted(OWN_PATHS):
        blocks.append(f"        location = {path} {{\n{_proxy(GATEWAY_GROUP, 30)}\n        }}")
    for route in ROUTES:
        body = f"client_max_body_size {route.max_body // 1024}k;"
        for location in (f"= {route.path}", f"{route.path}/"):
            blocks.append(
                f"        location {location} {{\n{_proxy(route.service, route.read_timeout, extra=[body])}\n        }}"
            )
    blocks.append(
        f"        location / {{\n{_proxy(DEFAULT_ROUTE.service, DEFAULT_ROUTE.read_timeout, extra=[_page_errors()])}"
        "\n        }"
    )
    blocks.append(_method_not_allowed())
    for status, problem in sorted(edge_problems.NGINX_OWN_ANSWERS.items()):
        blocks.append(
            f"        location @problem_{status} {{\n            return {status} {_json_string(problem)};\n        }}"
        )
    page = edge_problems.TOO_LARGE_PAGE
    assert "'" not in page and "$" not in page and "\\" not in page, page
    blocks.append(
        f'        location @page_413 {{\n            default_type "{edge_problems.PAGE_TYPE}";\n'
        f"            return 413 '{page}';\n        }}"
    )
    return "\n".join(blocks)


def render(layout: EdgeLayout) -> str:
    """The whole ``nginx.conf`` for ``layout``."""
    run = layout.runtime_dir.rstrip("/")
    security_maps, security_adds = _security_headers()
    upstreams = "\n".join(_upstream(name, servers) for name, servers in layout.upstreams.items())
    error_pages = "\n".join(
        f"        error_page {status} = @problem_{status};"
        for status in sorted({*edge_problems.NGINX_OWN_ANSWERS, 405})
    )
    user = f"user {layout.run_as};\n" if layout.run_as else ""
    access_log = "access_log off;" if layout.access_log == "off" else f"access_log {layout.access_log} mamori;"
    extra = "\n".join(f"    {line}" for line in layout.extra_http)
    return f"""# Rendered by `mamori edge nginx-config` from gateway/routing.py: edit the route table, not this.
{user}worker_processes {layout.workers};
daemon {"on" if layout.daemon else "off"};
pid {run}/nginx.pid;
error_log {layout.error_log} warn;

events {{
    worker_connections 4096;
}}

http {{
    server_tokens off;
    # A target that may hold a card number is refused before anything else (so nginx's error log,
    # which quotes the request line, never sees one past a 413 or a lost upstream), and its access
    # log line withholds the path.
    # Only a run standing on its own is refused: ids are hex, and 13 digits in a row inside one are
    # no card number (its access log line still withholds the path).
    map $request_uri $mamori_card_in_target {{
        "~*(?<![0-9a-z]){CARD_LIKE_TARGET}(?![0-9a-z])" 1;
        default "";
    }}
    map $request_uri $mamori_logged_path {{
        "~*{CARD_LIKE_TARGET}" "[withheld: digits like a card number]";
        default $uri;
    }}
    log_format mamori escape=json '{{"time":"$time_iso8601","request_id":"$mamori_request_id",'
        '"client_ip":"$remote_addr","method":"$request_method","path":"$mamori_logged_path","status":$status,'
        '"duration_ms":$request_time,"upstream":"$upstream_addr"}}';
    {access_log}
    client_body_temp_path {run}/client_body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    keepalive_requests 10000;
{extra}

{_trust(layout.trusted_proxies)}

{security_maps}

{_method_owner_map()}

    limit_req_zone $binary_remote_addr zone=mamori_sign_in:10m rate={SIGN_IN_RATE_PER_SECOND}r/s;
    limit_req_status 429;

{upstreams}

    server {{
        listen {layout.listen};
        default_type application/problem+json;
        client_max_body_size {DEFAULT_ROUTE.max_body // 1024}k;
        proxy_http_version 1.1;
        proxy_request_buffering off;
        proxy_connect_timeout {CONNECT_TIMEOUT:g}s;
        proxy_send_timeout 30s;
        proxy_next_upstream error;
        proxy_next_upstream_tries 2;
        proxy_set_header Connection "";
        proxy_set_header X-Forwarded-For $mamori_forwarded_for;
        proxy_set_header X-Forwarded-Proto $mamori_forwarded_proto;
        proxy_set_header X-Forwarded-Host $mamori_forwarded_host;
        proxy_set_header X-Request-ID $mamori_request_id;
        proxy_set_header X-Real-IP $mamori_real_ip;
        proxy_set_header Forwarded $mamori_forwarded;
        proxy_hide_header x-request-id;
{security_adds}
{error_pages}

        if ($request_uri ~* "{MALFORMED_TARGET}") {{
            return 400 {_json_string(edge_problems.MALFORMED_PATH)};
        }}
        if ($mamori_card_in_target) {{
            return 422 {_json_string(edge_problems.CARD_NUMBER_IN_TARGET)};
        }}

{_locations()}
    }}
}}
"""
