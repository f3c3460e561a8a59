"""Fixtures for the notification service's tests; the servers live in notification_servers.py,
next to this file, which the test modules import too."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from notification_servers import smtp, webhook

__all__ = ["smtp", "webhook"]
