"""Fixtures for the isolation service's tests; they live in isolation_harness.py, next to
this file, which the test modules import for its helpers too."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from isolation_harness import gate, gate_stand_in, isolation, registry_service

__all__ = ["gate", "gate_stand_in", "isolation", "registry_service"]
