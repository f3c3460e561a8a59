"""Run the registry service: ``python -m cordon_registry`` (settings from CORDON_* variables)."""

from __future__ import annotations

from cordon_core.http import serve
from cordon_registry.bootstrap import build
from cordon_registry.settings import RegistrySettings


def main() -> None:
    serve(RegistrySettings(), lambda s: build(s)[1])


if __name__ == "__main__":
    main()
