"""Run the isolation service: ``python -m cordon_isolation`` (settings from CORDON_*)."""

from __future__ import annotations

from cordon_core.http import serve
from cordon_isolation.bootstrap import build
from cordon_isolation.entrypoints.http import create_app
from cordon_isolation.settings import IsolationSettings


def main() -> None:
    serve(IsolationSettings(), lambda s: create_app(build(s)))


if __name__ == "__main__":
    main()
