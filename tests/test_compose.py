"""docker-compose.yml wires the production shape the code expects.

The variable names are not typed twice: they come from the pydantic settings classes each
process reads, so renaming a setting without updating the compose file (or mistyping a variable
in it) fails here, not on the first production deploy. Each container's environment is also fed
through its own settings class, so the values must parse the way the process will parse them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from gateway.config import GatewaySettings
from infra.services import BACKEND_SERVICES, DATABASE_SERVICES, GATEWAY, ROOT
from mamori_common.service_keys import SIGNING_SERVICES, private_key_file
from mamori_common.settings import CommonSettings, ServiceSettings
from portal.config import PortalSettings
from services.auth.config import AuthSettings
from services.orders.config import OrdersSettings
from services.verification.config import VerificationSettings

COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "infra" / "Dockerfile"

#: Which settings class each Mamori container reads.
SETTINGS: dict[str, type[CommonSettings]] = {
    "auth": AuthSettings,
    "verification": VerificationSettings,
    "orders": OrdersSettings,
    "portal": PortalSettings,
    "gateway": GatewaySettings,
}
PROCESSES = {spec.name: spec for spec in (*BACKEND_SERVICES, GATEWAY)}
#: Stand-ins for the values an operator exports before `docker-compose up`.
OPERATOR_ENV = {
    "POSTGRES_PASSWORD": "pg-password-1",
}


# --------------------------------------------------------------------------- reading the file


def env_names(settings_class: type[BaseSettings]) -> dict[str, str]:
    """Environment variable -> field, the way pydantic-settings looks them up."""
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    names: dict[str, str] = {}
    for field_name, field in settings_class.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            choices = [choice for choice in alias.choices if isinstance(choice, str)]
        elif isinstance(alias, str):
            choices = [alias]
        else:
            choices = [prefix + field_name]
        for choice in choices:
            names[choice.upper()] = field_name
    return names


def env_name_of(settings_class: type[BaseSettings], field_name: str) -> str:
    found = [name for name, field in env_names(settings_class).items() if field == field_name]
    assert len(found) == 1, f"{settings_class.__name__}.{field_name} is read from {found}"
    return found[0]


_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?error}``."""

    def replace(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        current = env.get(name)
        if operator and operator.endswith("-"):
            return current if current else argument
        if operator and operator.endswith("?") and not current:
            raise KeyError(f"{name}: {argument}")
        return current or ""

    return _INTERPOLATION.sub(replace, value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict) and isinstance(document.get("services"), dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def environment(service: dict[str, Any], env: Mapping[str, str] = OPERATOR_ENV) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {str(key): interpolate(str(value), env) for key, value in raw.items()}


def command(service: dict[str, Any]) -> list[str]:
    raw = service.get("command") or []
    return raw.split() if isinstance(raw, str) else [str(part) for part in raw]


def port_of(service: dict[str, Any]) -> str:
    words = command(service)
    return words[words.index("--port") + 1]


@pytest.fixture
def container_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Make a container's environment the process environment (and nothing else of ours)."""
    for name in list(os.environ):
        if name.startswith("MAMORI_"):
            monkeypatch.delenv(name)

    def apply(env: Mapping[str, str]) -> None:
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    yield apply


# --------------------------------------------------------------------------- the tests


def test_every_process_is_a_service_with_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in PROCESSES.items():
        assert name in services, f"{name} is missing from docker-compose.yml"
        service = services[name]
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        words = command(service)
        assert words[:3] == ["uvicorn", "--factory", spec.app_factory], f"{name} runs {words}"
        assert service["build"]["dockerfile"] == "infra/Dockerfile"
        assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        path = "/healthz" if name == "gateway" else "/readyz"
        assert path in " ".join(map(str, service["healthcheck"]["test"])), f"{name} checks {path}"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "ping" in services["redis"]["healthcheck"]["test"]


def test_dependencies_wait_for_health(services: dict[str, dict[str, Any]]) -> None:
    migrate = services["migrate"]
    assert command(migrate) == ["mamori", "migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for spec in DATABASE_SERVICES:
        depends = services[spec.name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", spec.name
    for name in ("auth", "verification", "orders", "portal"):
        assert services["gateway"]["depends_on"][name]["condition"] == "service_healthy"
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions, not a bare list"
        for target, rule in depends.items():
            assert target in services, f"{name} depends on unknown {target}"
            assert rule.get("condition") in ("service_healthy", "service_completed_successfully", "service_started")


def test_each_database_service_gets_its_own_database(services: dict[str, dict[str, Any]]) -> None:
    init_scripts = [volume for volume in services["postgres"]["volumes"] if "docker-entrypoint-initdb.d" in volume]
    assert len(init_scripts) == 1
    init_sql = (ROOT / init_scripts[0].split(":", 1)[0]).read_text()
    created = set(re.findall(r"CREATE DATABASE\s+\"?(\w+)\"?", init_sql, flags=re.IGNORECASE))

    databases = {}
    for spec in DATABASE_SERVICES:
        variable = env_name_of(SETTINGS[spec.name], "database_url")
        assert variable == f"MAMORI_{spec.name.upper()}_DATABASE_URL"
        url = environment(services[spec.name]).get(variable)
        assert url, f"{spec.name} has no {variable}"
        parts = urlsplit(url)
        assert parts.scheme in ("postgresql", "postgres", "postgresql+psycopg")
        assert parts.hostname == "postgres"
        databases[spec.name] = parts.path.lstrip("/")
        assert environment(services["migrate"]).get(variable) == url, f"migrate migrates {spec.name}'s database"
    assert len(set(databases.values())) == len(databases), f"databases are shared: {databases}"
    assert set(databases.values()) <= created, f"init script creates {created}, services use {databases}"


def test_required_settings_are_wired_for_every_container(services: dict[str, dict[str, Any]]) -> None:
    required_fields = {
        "redis_url",
        "trusted_proxies",
        "data_dir",
        "auth_url",
        "verification_url",
        "orders_url",
        "portal_url",
    }
    # The gateway lists every replica; the services reach each other by name (Docker's DNS), and
    # their internal client falls back to that one URL (mamori_common/internal_http.py).
    upstreams = {field for field in GatewaySettings.model_fields if field.endswith("_upstreams")}
    for name, settings_class in SETTINGS.items():
        env = environment(services[name])
        readable = env_names(settings_class)
        fields = set(readable.values())
        required = required_fields | upstreams if settings_class is GatewaySettings else required_fields
        wanted = {env_name_of(settings_class, field) for field in required & fields}
        if issubclass(settings_class, ServiceSettings):
            wanted.add(env_name_of(settings_class, "database_url"))
        missing = sorted(variable for variable in wanted if not env.get(variable))
        assert not missing, f"{name} lacks {missing}"
        unknown = sorted(variable for variable in env if variable.startswith("MAMORI_") and variable not in readable)
        assert not unknown, f"{name} sets variables nothing reads: {unknown}"
    for variable in (
        "MAMORI_AUTH_SIGNING_KEY",
        "MAMORI_AUTH_ENCRYPTION_KEY",
        "MAMORI_SMTP_URL",
        "MAMORI_PASSKEY_RP_ID",
        "MAMORI_PASSKEY_ORIGINS",
    ):
        assert variable in services["auth"]["environment"], f"auth does not pass {variable} through"


def test_service_urls_and_upstreams_point_at_the_containers(services: dict[str, dict[str, Any]]) -> None:
    def check(url: str, target: str, where: str) -> None:
        parts = urlsplit(url)
        assert parts.scheme == "http" and parts.hostname == target, f"{where}: {url}"
        assert str(parts.port) == port_of(services[target]), f"{where}: {url} is not where {target} listens"

    for name in SETTINGS:
        env = environment(services[name])
        for target in ("auth", "verification", "orders", "portal"):
            check(env[f"MAMORI_{target.upper()}_URL"], target, f"{name} MAMORI_{target.upper()}_URL")
    gateway_env = environment(services["gateway"])
    for target in ("auth", "verification", "orders", "portal"):
        for url in gateway_env[f"MAMORI_{target.upper()}_UPSTREAMS"].split(","):
            check(url.strip(), target, f"gateway MAMORI_{target.upper()}_UPSTREAMS")


def test_each_container_environment_parses_with_its_settings_class(
    services: dict[str, dict[str, Any]], container_env: Any
) -> None:
    for name, settings_class in SETTINGS.items():
        container_env(environment(services[name]))
        settings = settings_class()
        assert settings.redis_url and settings.redis_url.startswith("redis://redis:")
        assert settings.trusted_proxies, name
        if isinstance(settings, ServiceSettings):
            assert settings.resolved_database_url().startswith("postgresql://mamori:pg-password-1@postgres:5432/")
        if isinstance(settings, GatewaySettings):
            for target in ("auth", "verification", "orders", "portal"):
                assert settings.upstreams(target) == [f"http://{target}:{port_of(services[target])}"]
    edge_address = services["edge"]["networks"]["mamori"]["ipv4_address"]
    portal_address = services["portal"]["networks"]["mamori"]["ipv4_address"]
    for name in ("auth", "verification", "orders", "portal", "gateway"):
        proxies = environment(services[name])["MAMORI_TRUSTED_PROXIES"]
        assert proxies == f"{edge_address}/32,{portal_address}/32", (
            f"{name} should believe X-Forwarded-For from the edge and the portal only"
        )


def _mounts(service: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """Container path -> (named volume, read-only) of a service's volume mounts."""
    found = {}
    for volume in service.get("volumes") or []:
        source, target, *mode = str(volume).split(":")
        found[target] = (source, "ro" in mode)
    return found


def test_each_service_mounts_its_own_key_alone_and_the_portal_holds_none(
    services: dict[str, dict[str, Any]], compose: dict[str, Any], container_env: Any
) -> None:
    """A service's private key is in a volume only it (and the ``keys`` one-shot) mounts, where
    its settings look for it; every service reads the others' public keys; the portal and the
    gateway have no key and no setting for one."""
    keys = services["keys"]
    assert command(keys) == ["mamori", "keys"]
    key_volumes: dict[str, str] = {}
    for name in SIGNING_SERVICES:
        settings_class = SETTINGS[name]
        assert issubclass(settings_class, ServiceSettings)
        container_env(environment(services[name]))
        settings = settings_class()
        assert settings.service_private_key is None and settings.service_key_file is None
        mounts = _mounts(services[name])
        private = str(private_key_file(settings.data_dir, name).parent)
        public = str(settings.resolved_public_keys_dir())
        assert private in mounts and mounts[private][1], f"{name} mounts its key directory read-only"
        assert public in mounts and mounts[public][1], f"{name} reads the public keys read-only"
        key_volumes[name] = mounts[private][0]
        assert _mounts(keys).get(private, ("", False))[0] == key_volumes[name], "the keys one-shot writes it"
        assert services[name]["depends_on"]["keys"]["condition"] == "service_completed_successfully"
    assert len(set(key_volumes.values())) == len(key_volumes), f"services share a key volume: {key_volumes}"
    for other, service in services.items():
        if other == "keys":
            continue
        for volume, _read_only in _mounts(service).values():
            owners = [name for name, key_volume in key_volumes.items() if key_volume == volume]
            assert owners in ([], [other]), f"{other} mounts the key volume of {owners}"
    assert set(key_volumes.values()) <= set(compose["volumes"])
    for name in ("portal", "gateway"):
        key_fields = {field for field in SETTINGS[name].model_fields if "key" in field or "secret" in field}
        assert key_fields <= {"portal_csrf_key"}, f"{name} has a service key setting: {key_fields}"
        assert not any("KEY" in variable and "CSRF" not in variable for variable in environment(services[name]))
    assert "MAMORI_PORTAL_CSRF_KEY" in services["portal"]["environment"]


def test_the_edge_is_the_official_nginx_image_with_the_rendered_configuration(
    services: dict[str, dict[str, Any]],
) -> None:
    edge = services["edge"]
    assert edge["image"].startswith("nginx:") and "build" not in edge
    assert "./infra/nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in edge["volumes"]
    assert (ROOT / "infra" / "nginx" / "nginx.conf").is_file()
    assert edge["depends_on"]["gateway"]["condition"] == "service_healthy"
    assert "/healthz" in " ".join(edge["healthcheck"]["test"])
    published = {
        name
        for name, service in services.items()
        if any(str(port).endswith(":8000") for port in service.get("ports", []))
    }
    assert published == {"edge"}, f"only the edge is public, not {published - {'edge'}}"


def test_the_committed_nginx_configuration_is_rendered_from_the_route_table(
    services: dict[str, dict[str, Any]], container_env: Any, tmp_path: Path
) -> None:
    """The command in docker-compose.yml's header, with the gateway container's upstreams."""
    from infra.cli import main

    upstreams = {name: value for name, value in environment(services["gateway"]).items() if name.endswith("_UPSTREAMS")}
    container_env({**upstreams, "MAMORI_TRUSTED_PROXIES": "127.0.0.1/32"})
    rendered = tmp_path / "nginx.conf"
    assert main(["edge", "nginx-config", "--output", str(rendered)]) == 0
    committed = (ROOT / "infra" / "nginx" / "nginx.conf").read_text()
    assert rendered.read_text() == committed, "render infra/nginx/nginx.conf again (see docker-compose.yml)"
    for host, port in re.findall(r"^\s*server ([a-z]+):(\d+) ", committed, flags=re.MULTILINE):
        assert port == port_of(services[host]), f"nginx forwards to {host}:{port}, which is not where it listens"
    assert f"listen 0.0.0.0:{services['edge']['ports'][0].rsplit(':', 1)[1]};" in committed


def test_dockerfile_builds_a_non_root_image_of_the_package() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    assert any(line.startswith("RUN pip install .") for line in lines)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), "the processes do not run as root"
    assert any('"uvicorn", "--factory"' in line for line in lines if line.startswith("CMD"))


@pytest.fixture(scope="module")
def docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        pytest.skip("docker-compose is not installed (Debian package docker-compose)")
    return found


def _compose_config(docker_compose: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        key: value for key, value in os.environ.items() if not key.startswith("MAMORI_") and key != "POSTGRES_PASSWORD"
    }
    return subprocess.run(
        [docker_compose, "-f", str(COMPOSE_FILE), "config"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_docker_compose_accepts_the_file(docker_compose: str) -> None:
    result = _compose_config(docker_compose, OPERATOR_ENV)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert set(PROCESSES) <= set(resolved["services"])
    assert resolved["services"]["auth"]["environment"]["MAMORI_AUTH_DATABASE_URL"].endswith("@postgres:5432/auth")
    assert "SECRET" not in result.stdout, "no shared secret is wired any more"


def test_docker_compose_refuses_to_run_without_the_database_password(docker_compose: str) -> None:
    result = _compose_config(docker_compose, {})
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr
