"""Run the registry service: ``python -m cordon_registry`` (settings from CORDON_* variables)."""

from __future__ import annotations

import uvicorn

from cordon_core.observability import configure_logging
from cordon_registry.bootstrap import build
from cordon_registry.settings import RegistrySettings


def main() -> None:
    settings = RegistrySettings()
    configure_logging(level=settings.log_level, json_logs=settings.log_json)
    _, app = build(settings)
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None)


if __name__ == "__main__":
    main()
