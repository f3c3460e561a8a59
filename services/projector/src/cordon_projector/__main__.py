"""Run the projector service: ``python -m cordon_projector``."""

from __future__ import annotations

import uvicorn

from cordon_core.observability import configure_logging
from cordon_projector.bootstrap import ProjectorSettings, build_projector
from cordon_projector.entrypoints.http import create_app


def main() -> None:
    settings = ProjectorSettings()
    configure_logging(level=settings.log_level, json_logs=settings.log_json)
    app = create_app(build_projector(settings))
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None)


if __name__ == "__main__":
    main()
