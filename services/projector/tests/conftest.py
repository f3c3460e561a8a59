"""The projector's tests share a scripted district (projector_scenario.py, next to this
file); this puts it on the import path under a name no other tests/ folder uses."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
