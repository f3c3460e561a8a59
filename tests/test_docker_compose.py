"""Structural checks of docker-compose.yml, the shared service Dockerfile and .dockerignore.

Nothing here needs a Docker engine: the files are parsed and compared with the code they
describe (the service packages, their settings classes, the workspace layout), so a
service added under services/ without a container, a misspelt CORDON_* variable or a port
that disagrees with its healthcheck fails here rather than on someone's `docker compose
up`. Only `test_docker_compose_config_is_valid` needs an engine and skips without one.

Every service is built from one Dockerfile, deploy/docker/service.Dockerfile, with build
args SERVICE (the directory under services/) and PORT; the Dockerfile checks are run on
it as each service's build args instantiate it.

Compose interpolation (``${VAR:-default}``) is resolved with the defaults written in the
file, never with the caller's environment, so the checks are deterministic and also prove
that the file works with no .env at all.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from cordon_core.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERIGNORE = ROOT / ".dockerignore"
SERVICE_DOCKERFILE = ROOT / "deploy" / "docker" / "service.Dockerfile"

# One fixed port per service, inside the container and on the host alike.
PORT_PLAN = {
    "gate": 8101,
    "registry": 8102,
    "isolation": 8103,
    "notification": 8104,
    "projector": 8105,
}
PYTHON_BASE = "python:3.11-slim"


# --- the workspace -------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceDir:
    path: Path
    project: str  # distribution name from pyproject.toml, e.g. cordon-gate

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def module(self) -> str:
        return f"cordon_{self.name}"


def _service_dirs() -> list[ServiceDir]:
    found = []
    for pyproject in sorted((ROOT / "services").glob("*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["name"]
        found.append(ServiceDir(pyproject.parent, project))
    return found


SERVICE_DIRS = _service_dirs()
per_service = pytest.mark.parametrize("service", SERVICE_DIRS, ids=lambda s: s.name)


def test_the_workspace_has_services() -> None:
    """Guards the parametrised tests below against silently running for nothing."""
    assert SERVICE_DIRS, "no services/*/pyproject.toml found"


# --- compose parsing -----------------------------------------------------------------------

_VARIABLE = re.compile(r"\$(?:\$|\{(?P<braced>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")
_WITH_DEFAULT = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?P<default>.*))?", re.S)


def _interpolate_text(text: str) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        expression = match.group("braced") or match.group("bare") or ""
        parsed = _WITH_DEFAULT.fullmatch(expression)
        if parsed is None or parsed.group("default") is None:
            raise AssertionError(
                f"{match.group(0)} in docker-compose.yml has no default "
                "(use ${NAME:-default}); `docker compose up` would need it set"
            )
        return parsed.group("default")

    return _VARIABLE.sub(substitute, text)


def _interpolate(value: Any) -> Any:
    if isinstance(value, str):
        return _interpolate_text(value)
    if isinstance(value, list):
        return [_interpolate(item) for item in value]
    if isinstance(value, dict):
        return {key: _interpolate(item) for key, item in value.items()}
    return value


@cache
def compose() -> dict[str, Any]:
    # safe_load resolves the YAML anchors and `<<` merge keys exactly as Compose does.
    loaded = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict) and isinstance(loaded.get("services"), dict)
    return dict(_interpolate(loaded))


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as strings, from either the mapping or the list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): "" if value is None else _scalar(value) for key, value in env.items()}


def _scalar(value: Any) -> str:
    # YAML booleans reach the container as "true"/"false", as Compose writes them.
    return str(value).lower() if isinstance(value, bool) else str(value)


def _infra_service(image_prefix: str) -> str:
    names = [
        name
        for name, service in services().items()
        if str(service.get("image", "")).startswith(image_prefix)
    ]
    assert len(names) == 1, f"expected one {image_prefix}* service, found {names}"
    return names[0]


def kafka_name() -> str:
    return _infra_service("apache/kafka:")


def postgres_name() -> str:
    return _infra_service("postgres:")


def cordon_service(service: ServiceDir) -> dict[str, Any]:
    found = services().get(service.name)
    assert found is not None, (
        f"services/{service.name} has a pyproject.toml but docker-compose.yml has no "
        f"`{service.name}` service"
    )
    return found


def service_build(service: ServiceDir) -> dict[str, Any]:
    build = cordon_service(service).get("build")
    assert isinstance(build, dict), f"{service.name}: `build` needs context, dockerfile, args"
    return build


def build_args_of(service: ServiceDir) -> dict[str, str]:
    """The service's build args as strings, from either the mapping or the list form."""
    args = service_build(service).get("args") or {}
    if isinstance(args, list):
        args = dict(item.split("=", 1) if "=" in item else (item, None) for item in args)
    # A bare name takes its value from the caller's environment: not reproducible here.
    assert all(value is not None for value in args.values()), f"{service.name}: {args}"
    return {str(key): _scalar(value) for key, value in args.items()}


def http_port(service: ServiceDir) -> int:
    env = environment(cordon_service(service))
    assert "CORDON_HTTP_PORT" in env, f"{service.name} must set CORDON_HTTP_PORT"
    return int(env["CORDON_HTTP_PORT"])


def port_mappings(service: dict[str, Any]) -> list[tuple[int | None, int]]:
    """(published, target) pairs from the short ("8101:8101") or long port syntax."""
    mappings: list[tuple[int | None, int]] = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            published = entry.get("published")
            mappings.append((int(published) if published else None, int(entry["target"])))
            continue
        spec = str(entry).split("/", 1)[0]  # drop /tcp
        parts = spec.rsplit(":", 2)  # [host_ip:]published:target, or just target
        target = int(parts[-1])
        mappings.append((int(parts[-2]) if len(parts) > 1 and parts[-2] else None, target))
    return mappings


def volume_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) pairs from the short ("name:/path[:ro]") or long volume syntax."""
    mounts = []
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            mounts.append((str(entry.get("source", "")), str(entry["target"])))
        else:
            source, _, rest = str(entry).partition(":")
            mounts.append((source, rest.split(":", 1)[0]) if rest else ("", source))
    return mounts


def healthcheck_command(service: dict[str, Any]) -> str:
    test = (service.get("healthcheck") or {}).get("test")
    assert test, "no healthcheck test"
    if isinstance(test, str):  # string form is run by the shell, like CMD-SHELL
        return test
    assert test[0] in ("CMD", "CMD-SHELL"), f"healthcheck test must start with CMD: {test}"
    return " ".join(str(part) for part in test[1:])


def settings_class(module: str) -> type[ServiceSettings]:
    """The settings class a service's entrypoint reads: the most derived ServiceSettings
    (sub)class in its ``__main__`` module, e.g. ProjectorSettings for the projector."""
    main = importlib.import_module(f"{module}.__main__")
    candidates = [
        obj
        for obj in vars(main).values()
        if inspect.isclass(obj) and issubclass(obj, ServiceSettings)
    ]
    leaves = [c for c in candidates if not any(o is not c and issubclass(o, c) for o in candidates)]
    assert len(leaves) <= 1, f"{module}.__main__ uses several settings classes: {leaves}"
    return leaves[0] if leaves else ServiceSettings


def env_names(settings: type[ServiceSettings]) -> set[str]:
    prefix = str(settings.model_config.get("env_prefix", ""))
    return {f"{prefix}{field}".upper() for field in settings.model_fields}


# --- Dockerfile parsing --------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def dockerfile(path: Path) -> list[Instruction]:
    """Instructions with line continuations joined and comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # also inside a continuation, where Docker drops them as well
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
        pending = ""
    assert not pending, f"{path}: dangling line continuation"
    return instructions


def build_args(instructions: list[Instruction]) -> dict[str, str]:
    """ARG defaults declared before the first FROM (the ones FROM may use)."""
    found: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == "FROM":
            break
        if instruction.keyword == "ARG" and "=" in instruction.args:
            name, value = instruction.args.split("=", 1)
            found[name.strip()] = value.strip().strip('"')
    return found


def base_images(instructions: list[Instruction]) -> list[str]:
    args = build_args(instructions)
    images = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            words = [w for w in instruction.args.split() if not w.startswith("--")]
            images.append(
                re.sub(
                    r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?",
                    lambda m: args.get(m.group(1), m.group(0)),
                    words[0],
                )
            )
    return images


def exec_form(args: str) -> list[str]:
    parsed = json.loads(args)
    assert isinstance(parsed, list) and all(isinstance(p, str) for p in parsed)
    return parsed


def last(instructions: list[Instruction], keyword: str) -> Instruction:
    matching = [i for i in instructions if i.keyword == keyword]
    assert matching, f"no {keyword} instruction"
    return matching[-1]


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    starts = [n for n, i in enumerate(instructions) if i.keyword == "FROM"]
    assert starts, "no FROM"
    return instructions[starts[-1] :]


def env_pairs(args: str) -> dict[str, str]:
    """``ENV A=1 B="x y"`` as {A: 1, B: x y} (the legacy ``ENV A 1`` form is not used)."""
    pairs = {}
    for word in shlex.split(args):
        name, sep, value = word.partition("=")
        assert sep, f"use ENV NAME=value: {args}"
        pairs[name] = value
    return pairs


_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_REFERENCE = re.compile(rf"\$(?:\{{(?P<braced>{_NAME})\}}|(?P<bare>{_NAME}))")
# Docker leaves the exec forms alone; a shell form of these is expanded by the shell at
# run time with the container's environment, not with the build args.
_NOT_EXPANDED_AT_BUILD = {"CMD", "ENTRYPOINT", "HEALTHCHECK"}


def instantiate(instructions: list[Instruction], values: dict[str, str]) -> list[Instruction]:
    """The instructions with ``$NAME``/``${NAME}`` replaced as a build with ``values`` as
    its --build-arg would see them: before the first FROM only the global ARGs, inside a
    stage only the ARGs that stage declares (a global one re-declared without a default
    keeps the global value) and the ENV set so far; unset args expand to "". RUN is
    expanded too, as its shell would with the ARGs and ENVs in its environment. Other
    forms (``${NAME:-x}``...) and unknown names are left as they are."""
    global_args: dict[str, str] = {}
    scope: dict[str, str] | None = None  # None until the first FROM

    def expand(text: str, known: dict[str, str]) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group("braced") or match.group("bare")
            return known.get(name, match.group(0))

        return _REFERENCE.sub(one, text)

    result = []
    for instruction in instructions:
        known = global_args if scope is None else scope
        if instruction.keyword == "ARG":
            for word in instruction.args.split():
                name, sep, default = word.partition("=")
                if name in values:
                    value = values[name]
                elif sep:
                    value = expand(default.strip('"'), known)
                else:
                    value = global_args.get(name, "") if scope is not None else ""
                known[name] = value
            result.append(instruction)
            continue
        if instruction.keyword == "FROM":
            result.append(Instruction("FROM", expand(instruction.args, global_args)))
            scope = {}
            continue
        if instruction.keyword in _NOT_EXPANDED_AT_BUILD:
            result.append(instruction)
            continue
        expanded = Instruction(instruction.keyword, expand(instruction.args, known))
        if instruction.keyword == "ENV":
            known.update(env_pairs(expanded.args))
        result.append(expanded)
    return result


@cache
def shared_dockerfile() -> tuple[Instruction, ...]:
    assert SERVICE_DOCKERFILE.is_file(), f"{SERVICE_DOCKERFILE} is missing"
    return tuple(dockerfile(SERVICE_DOCKERFILE))


def service_dockerfile(service: ServiceDir) -> list[Instruction]:
    """The shared Dockerfile as the service's compose build args instantiate it."""
    return instantiate(list(shared_dockerfile()), build_args_of(service))


def runtime_env(instructions: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in final_stage(instructions):
        if instruction.keyword == "ENV":
            env.update(env_pairs(instruction.args))
    return env


# --- services and their containers ---------------------------------------------------------


@per_service
def test_every_service_has_a_container_built_from_the_shared_dockerfile(
    service: ServiceDir,
) -> None:
    build = service_build(service)
    context = (COMPOSE_FILE.parent / build["context"]).resolve()
    assert context == ROOT, (
        f"{service.name}: the build context must be the workspace root, since the image "
        "needs uv.lock and libs/"
    )
    assert (context / build["dockerfile"]).resolve() == SERVICE_DOCKERFILE.resolve()
    assert SERVICE_DOCKERFILE.is_file(), f"{SERVICE_DOCKERFILE} is missing"

    args = build_args_of(service)
    assert args.get("SERVICE") == service.name, f"{service.name}: build args {args}"
    assert args.get("PORT") == str(http_port(service)), (
        f"{service.name}: build arg PORT must be CORDON_HTTP_PORT ({http_port(service)})"
    )
    if service.name in PORT_PLAN:
        assert args["PORT"] == str(PORT_PLAN[service.name]), f"planned on {PORT_PLAN}"


def test_no_service_keeps_a_dockerfile_of_its_own() -> None:
    """Compose builds every service from the shared file; a stray per-service copy would
    silently drift from what actually ships."""
    strays = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "services").glob("*/Dockerfile"))
    assert not strays, f"services use {SERVICE_DOCKERFILE.relative_to(ROOT)}: remove {strays}"


def test_every_built_container_is_a_service_of_the_workspace() -> None:
    known = {service.name for service in SERVICE_DIRS}
    built = {name for name, service in services().items() if "build" in service}
    assert built <= known, f"compose builds services that do not exist: {built - known}"


@per_service
def test_cordon_variables_are_fields_of_the_service_settings(
    service: ServiceDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_class(service.module)
    env = environment(cordon_service(service))
    cordon_vars = {name for name in env if name.startswith("CORDON_")}
    unknown = cordon_vars - env_names(settings)
    assert not unknown, f"{service.name}: not fields of {settings.__name__}: {sorted(unknown)}"

    # And the values parse, together with the image's own CORDON_* (CORDON_SERVICE_MODULE
    # among them), which compose's environment overrides: the container would otherwise
    # die at start-up.
    for name in list(os.environ):
        if name.upper().startswith("CORDON_"):
            monkeypatch.delenv(name)
    container_env = {**runtime_env(service_dockerfile(service)), **env}
    for name, value in container_env.items():
        if name.startswith("CORDON_"):
            monkeypatch.setenv(name, value)
    parsed = settings()
    assert parsed.http_port == http_port(service)
    assert parsed.http_host == "0.0.0.0", "bind all interfaces, or nothing can reach it"


def test_settings_discovery_finds_each_services_own_settings() -> None:
    from cordon_gate.settings import GateSettings
    from cordon_projector.bootstrap import ProjectorSettings

    assert settings_class("cordon_projector") is ProjectorSettings
    assert settings_class("cordon_gate") is GateSettings


@per_service
def test_http_port_agrees_with_plan_ports_healthcheck_and_image(service: ServiceDir) -> None:
    port = http_port(service)
    container = cordon_service(service)
    if service.name in PORT_PLAN:
        assert port == PORT_PLAN[service.name], f"{service.name} is planned on {PORT_PLAN}"

    assert port_mappings(container) == [(port, port)], (
        f"{service.name}: publish exactly {port}:{port}"
    )

    command = healthcheck_command(container)
    assert "urllib.request" in command, "slim images have no curl: use Python's urllib"
    urls = re.findall(r"https?://(?:127\.0\.0\.1|localhost):(\d+)(/[\w/]*)", command)
    assert urls == [(str(port), "/health/ready")], f"{service.name} healthcheck: {command}"

    # The image alone (no compose environment) listens, exposes and checks the PORT arg.
    runtime = final_stage(service_dockerfile(service))
    assert last(runtime, "EXPOSE").args.split("/")[0] == str(port)
    assert runtime_env(service_dockerfile(service)).get("CORDON_HTTP_PORT") == str(port)
    healthcheck = last(runtime, "HEALTHCHECK").args
    assert "/health/ready" in healthcheck
    assert "CORDON_HTTP_PORT" in healthcheck, "the image's healthcheck must follow its port"


def test_shared_dockerfile_takes_the_port_from_the_port_arg() -> None:
    """A literal port in the shared file would be every service's port."""
    runtime = final_stage(list(shared_dockerfile()))
    assert re.fullmatch(r"\$\{?PORT\}?", last(runtime, "EXPOSE").args.split("/")[0])
    assert re.fullmatch(r"\$\{?PORT\}?", runtime_env(runtime).get("CORDON_HTTP_PORT", ""))


def test_published_ports_are_unique() -> None:
    published = [
        host
        for service in services().values()
        for host, _ in port_mappings(service)
        if host is not None
    ]
    assert len(published) == len(set(published)), f"port published twice: {published}"


def kafka_listeners(variable: str) -> dict[str, str]:
    """``NAME://host:port,...`` from the kafka service's environment, as {NAME: host:port}."""
    env = environment(services()[kafka_name()])
    listeners = {}
    for entry in env[variable].split(","):
        name, _, address = entry.strip().partition("://")
        listeners[name] = address
    return listeners


def port_of(address: str) -> str:
    return address.rsplit(":", 1)[1]


@per_service
def test_kafka_bootstrap_is_the_advertised_listener(service: ServiceDir) -> None:
    bootstrap = environment(cordon_service(service))["CORDON_KAFKA_BOOTSTRAP"]
    advertised = kafka_listeners("KAFKA_ADVERTISED_LISTENERS")
    kafka_hosts = {kafka_name(), services()[kafka_name()].get("hostname", kafka_name())}
    for server in bootstrap.split(","):
        assert server in advertised.values(), f"{server} is not advertised: {advertised}"
        assert server.rsplit(":", 1)[0] in kafka_hosts


@per_service
def test_database_url_points_at_the_postgres_service(service: ServiceDir) -> None:
    url = urlsplit(environment(cordon_service(service))["CORDON_DATABASE_URL"])
    postgres = environment(services()[postgres_name()])
    user = postgres.get("POSTGRES_USER", "postgres")
    assert url.scheme in ("postgresql", "postgres")
    assert url.hostname == postgres_name()
    assert url.port in (None, 5432)
    assert url.username == user
    assert url.password == postgres["POSTGRES_PASSWORD"]
    assert url.path.lstrip("/") == postgres.get("POSTGRES_DB", user)


@per_service
def test_service_waits_for_healthy_kafka_and_postgres(service: ServiceDir) -> None:
    depends_on = cordon_service(service).get("depends_on")
    assert isinstance(depends_on, dict), "use the long depends_on form, with conditions"
    for infra in (kafka_name(), postgres_name()):
        assert depends_on.get(infra, {}).get("condition") == "service_healthy", (
            f"{service.name} must wait for {infra} to be healthy"
        )
        assert services()[infra].get("healthcheck", {}).get("test"), f"{infra}: no healthcheck"


# --- infrastructure ------------------------------------------------------------------------


def test_kafka_is_the_official_image_as_a_single_kraft_node() -> None:
    kafka = services()[kafka_name()]
    assert re.fullmatch(r"apache/kafka:4\.\d+\.\d+", kafka["image"]), kafka["image"]
    env = environment(kafka)

    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    node_id = env["KAFKA_NODE_ID"]
    listeners = kafka_listeners("KAFKA_LISTENERS")
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert controller in listeners, f"{controller} listener missing: {listeners}"
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(listeners) <= set(protocols)
    voter_id, _, voter = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].partition("@")
    assert voter_id == node_id
    assert port_of(voter) == port_of(listeners[controller])
    for name, address in kafka_listeners("KAFKA_ADVERTISED_LISTENERS").items():
        assert name in listeners and name != controller, f"advertised {name} is not a listener"
        assert port_of(address) == port_of(listeners[name])

    # A single broker cannot hold more than one replica of anything.
    for name in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env.get(name) == "1", f"{name} must be 1 on a single node"
    assert env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE") == "true"

    # Topics auto-created by a consumer must match the ones the services create.
    for service in SERVICE_DIRS:
        cordon = environment(cordon_service(service))
        if "CORDON_TOPIC_PARTITIONS" in cordon:
            assert cordon["CORDON_TOPIC_PARTITIONS"] == env.get("KAFKA_NUM_PARTITIONS")
        assert int(cordon.get("CORDON_TOPIC_REPLICATION", "1")) == 1

    assert "/opt/kafka/bin/" in healthcheck_command(kafka)
    named = set(compose().get("volumes") or {})
    assert any(s in named and t == env["KAFKA_LOG_DIRS"] for s, t in volume_mounts(kafka)), (
        "Kafka's log dirs must be on a named volume, or recreating it loses every event"
    )


def test_postgres_is_the_official_image_with_data_on_a_volume() -> None:
    postgres = services()[postgres_name()]
    assert re.fullmatch(r"postgres:18(\.\d+)?", postgres["image"]), postgres["image"]
    assert environment(postgres).get("POSTGRES_PASSWORD")
    # 18+ images refuse a volume at the pre-18 /var/lib/postgresql/data.
    mounts = volume_mounts(postgres)
    named = set(compose().get("volumes") or {})
    assert any(s in named and t == "/var/lib/postgresql" for s, t in mounts), (
        f"mount a named volume at /var/lib/postgresql: {mounts}"
    )
    assert "pg_isready" in healthcheck_command(postgres)


# --- images --------------------------------------------------------------------------------


SYNC_PACKAGE = "cordon-${SERVICE}"
SERVICE_MODULE = "cordon_${SERVICE}"
# CMD's exec form expands nothing, so the module travels in the image's environment.
ENTRY = re.compile(r'exec python -m "?\$\{?CORDON_SERVICE_MODULE\}?"?')


def uv_sync_flags(instructions: list[Instruction]) -> list[str]:
    syncs = [i.args for i in instructions if i.keyword == "RUN" and "uv sync" in i.args]
    assert len(syncs) == 1, syncs
    return syncs[0].split()


def test_shared_dockerfile_derives_package_and_module_from_the_service_arg() -> None:
    instructions = list(shared_dockerfile())
    flags = uv_sync_flags(instructions)
    assert flags[flags.index("--package") + 1] == SYNC_PACKAGE
    assert runtime_env(instructions).get("CORDON_SERVICE_MODULE") == SERVICE_MODULE
    cmd = exec_form(last(final_stage(instructions), "CMD").args)
    assert cmd[:2] == ["sh", "-c"] and len(cmd) == 3, cmd
    assert ENTRY.fullmatch(cmd[2]), f"CMD must exec the module, so python gets SIGTERM: {cmd}"


@per_service
def test_dockerfile_builds_the_service_package_and_runs_its_module(service: ServiceDir) -> None:
    instructions = service_dockerfile(service)
    images = base_images(instructions)
    assert len(images) >= 2, "build and runtime stages: the runtime image has no build tools"
    assert set(images) == {PYTHON_BASE}, images

    runs = [i.args for i in instructions if i.keyword == "RUN"]
    assert any(re.search(r"\bpip install\b.*\buv\b", run) for run in runs), "pip install uv"
    flags = uv_sync_flags(instructions)
    for flag in ("--frozen", "--no-dev"):
        assert flag in flags, f"uv sync needs {flag}"
    # Only true if the build stage declares ARG SERVICE (and the package is cordon-<dir>).
    assert flags[flags.index("--package") + 1] == service.project

    runtime = final_stage(instructions)
    user = last(runtime, "USER").args.split(":")[0]
    assert user not in ("root", "0"), "the service must not run as root"
    env = " ".join(i.args for i in runtime if i.keyword == "ENV")
    assert "/app/.venv/bin" in env, "the venv must be on PATH"
    assert any(i.keyword == "HEALTHCHECK" for i in runtime)

    # Only true if the runtime stage declares ARG SERVICE too.
    assert runtime_env(instructions).get("CORDON_SERVICE_MODULE") == service.module
    assert importlib.util.find_spec(service.module) is not None
    assert importlib.util.find_spec(f"{service.module}.__main__") is not None


def test_dockerignore_keeps_local_state_out_but_the_workspace_in() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }
    for excluded in (".git", ".cordon", "bench/results", "**/__pycache__"):
        assert excluded in patterns, f".dockerignore must exclude {excluded}"
    assert patterns & {".venv", "**/.venv"}, ".dockerignore must exclude .venv"
    # What the Dockerfile COPYs from the context must stay in it.
    copied = {
        source.rstrip("/")
        for instruction in shared_dockerfile()
        if instruction.keyword == "COPY" and "--from=" not in instruction.args
        for source in instruction.args.split()[:-1]
        if not source.startswith("--")
    }
    assert {"pyproject.toml", "uv.lock", "libs", "services"} <= copied, copied
    for needed in (*sorted(copied), "*", "**"):
        assert needed not in patterns and f"{needed}/" not in patterns


# --- with an engine only -------------------------------------------------------------------


def _docker_ok(*args: str) -> bool:
    try:
        result = subprocess.run(["docker", *args], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def test_docker_compose_config_is_valid() -> None:
    if shutil.which("docker") is None:
        pytest.skip(reason="no docker CLI on PATH; the structural checks above still ran")
    if not _docker_ok("compose", "version"):
        pytest.skip(reason="the docker CLI has no compose plugin; structural checks ran")
    if not _docker_ok("info"):
        pytest.skip(reason="no reachable Docker engine (docker info failed); checks ran")
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
