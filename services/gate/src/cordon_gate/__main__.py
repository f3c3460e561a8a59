"""Run the gate service: ``python -m cordon_gate`` (settings from CORDON_* variables)."""

from __future__ import annotations

import uvicorn

from cordon_core.observability import configure_logging
from cordon_core.settings import ServiceSettings
from cordon_gate.bootstrap import build


def main() -> None:
    settings = ServiceSettings()
    configure_logging(level=settings.log_level, json_logs=settings.log_json)
    _, app = build(settings)
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None)


if __name__ == "__main__":
    main()
