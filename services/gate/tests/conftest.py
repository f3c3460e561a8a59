"""Fixtures for the gate service's tests; they live in gate_harness.py, next to this file,
which the test modules import for their helpers too."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from gate_harness import community, gate, isolation_service, registry_service

__all__ = ["community", "gate", "isolation_service", "registry_service"]
