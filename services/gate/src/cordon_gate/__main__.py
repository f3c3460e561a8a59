"""Run the gate service: ``python -m cordon_gate`` (settings from CORDON_* variables)."""

from __future__ import annotations

import uvicorn

from cordon_core.observability import configure_logging
from cordon_gate.bootstrap import build
from cordon_gate.entrypoints.http import create_app
from cordon_gate.settings import GateSettings


def main() -> None:
    settings = GateSettings()
    configure_logging(level=settings.log_level, json_logs=settings.log_json)
    uvicorn.run(
        create_app(build(settings)),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
    )


if __name__ == "__main__":
    main()
