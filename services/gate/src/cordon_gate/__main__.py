"""Run the gate service: ``python -m cordon_gate`` (settings from CORDON_* variables)."""

from __future__ import annotations

from cordon_core.http import serve
from cordon_gate.bootstrap import build_app
from cordon_gate.settings import GateSettings


def main() -> None:
    serve(GateSettings(), build_app)


if __name__ == "__main__":
    main()
