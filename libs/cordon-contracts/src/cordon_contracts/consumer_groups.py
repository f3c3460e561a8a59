"""Cordon's consumer groups: each group, the service that runs it and the topics it
reads (without the deployment's prefix). Generated from the services' subscriptions by
tests/test_static_checks.py, which fails when they differ; do not edit by hand:

    CORDON_REGENERATE=1 uv run pytest tests/test_static_checks.py -k consumer_groups
"""

from __future__ import annotations

from collections.abc import Mapping

CONSUMER_GROUPS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "gate-person-status": (
        "gate",
        (
            "registry.events",
            "isolation.events",
        ),
    ),
    "gate-scan-feed": (
        "gate",
        ("gate.scans",),
    ),
    "gate-staff-access": (
        "gate",
        ("registry.events",),
    ),
    "isolation-households": (
        "isolation",
        ("registry.events",),
    ),
    "isolation-passages": (
        "isolation",
        ("gate.events",),
    ),
    "isolation-policy": (
        "isolation",
        (
            "registry.events",
            "gate.events",
            "isolation.events",
        ),
    ),
    "isolation-staff-access": (
        "isolation",
        ("registry.events",),
    ),
    "notification-dispatch": (
        "notification",
        (
            "registry.events",
            "gate.events",
            "isolation.events",
        ),
    ),
    "projection-gate-traffic": (
        "projector",
        ("gate.events",),
    ),
    "projection-isolation-ledger": (
        "projector",
        ("isolation.events",),
    ),
    "projection-live-gates": (
        "projector",
        ("gate.events",),
    ),
    "projection-places": (
        "projector",
        ("registry.events",),
    ),
    "projection-residents": (
        "projector",
        ("registry.events",),
    ),
    "projection-screening-coverage": (
        "projector",
        ("registry.events",),
    ),
    "projection-test-results": (
        "projector",
        ("isolation.events",),
    ),
}
"""group -> (service, topics read)."""
