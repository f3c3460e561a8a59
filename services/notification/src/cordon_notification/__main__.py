"""Run the notification service: ``python -m cordon_notification`` (CORDON_* settings)."""

from __future__ import annotations

import uvicorn

from cordon_core.observability import configure_logging
from cordon_notification.bootstrap import build
from cordon_notification.entrypoints.http import create_app
from cordon_notification.settings import NotificationSettings


def main() -> None:
    settings = NotificationSettings()
    configure_logging(level=settings.log_level, json_logs=settings.log_json)
    uvicorn.run(
        create_app(build(settings)),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
    )


if __name__ == "__main__":
    main()
