"""Run the projector service: ``python -m cordon_projector``."""

from __future__ import annotations

from cordon_core.http import serve
from cordon_projector.bootstrap import ProjectorSettings, build_projector
from cordon_projector.entrypoints.http import create_app


def main() -> None:
    serve(ProjectorSettings(), lambda s: create_app(build_projector(s)))


if __name__ == "__main__":
    main()
