"""Run the isolation service: ``python -m cordon_isolation`` (settings from CORDON_*)."""

from __future__ import annotations

import uvicorn

from cordon_core.observability import configure_logging
from cordon_isolation.bootstrap import build
from cordon_isolation.entrypoints.http import create_app
from cordon_isolation.settings import IsolationSettings


def main() -> None:
    settings = IsolationSettings()
    configure_logging(level=settings.log_level, json_logs=settings.log_json)
    uvicorn.run(
        create_app(build(settings)),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
    )


if __name__ == "__main__":
    main()
