"""The whole system for cross-service tests: the five services as their own processes on
one database and one topic prefix, with known admin tokens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cordon_testing.processes import ServiceProcess

SERVICES = ("gate", "registry", "isolation", "notification", "projector")
TOKENS = {
    "gate": "system-gate-admin",
    "registry": "system-registry-admin",
    "isolation": "system-isolation-admin",
    "notification": "system-notification-admin",
    "projector": "system-dashboard-admin",
}
LAB = ("system-lab", "system-lab-token")
READY_TIMEOUT_S = 240.0
"""Five services importing at once on a busy two-core machine take a while."""


def system_env() -> dict[str, str]:
    return {
        "CORDON_GATE_ADMIN_TOKEN": TOKENS["gate"],
        "CORDON_REGISTRY_ADMIN_TOKEN": TOKENS["registry"],
        "CORDON_ISOLATION_ADMIN_TOKEN": TOKENS["isolation"],
        "CORDON_NOTIFICATION_ADMIN_TOKEN": TOKENS["notification"],
        "CORDON_DASHBOARD_ADMIN_TOKEN": TOKENS["projector"],
        "CORDON_LAB_TOKENS": f"{LAB[0]}:{LAB[1]}",
    }


@dataclass
class System:
    processes: dict[str, ServiceProcess]

    def url(self, service: str) -> str:
        return self.processes[service].url

    def admin(self, service: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKENS[service]}"}


@contextmanager
def running_system(service_env: dict[str, str], log_dir: Path) -> Iterator[System]:
    """All five services, started together, stopped afterwards."""
    env = {**service_env, **system_env()}
    processes = {name: ServiceProcess(f"cordon_{name}", env, log_dir) for name in SERVICES}
    try:
        for process in processes.values():
            process.launch()
        for process in processes.values():
            process.wait_ready(READY_TIMEOUT_S)
        yield System(processes)
    finally:
        for process in processes.values():
            process.stop()
