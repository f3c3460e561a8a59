"""Run the notification service: ``python -m cordon_notification`` (CORDON_* settings)."""

from __future__ import annotations

from cordon_core.http import serve
from cordon_notification.bootstrap import build
from cordon_notification.entrypoints.http import create_app
from cordon_notification.settings import NotificationSettings


def main() -> None:
    serve(NotificationSettings(), lambda s: create_app(build(s)))


if __name__ == "__main__":
    main()
