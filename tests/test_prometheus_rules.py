"""deploy/prometheus/cordon-alerts.yml: a rule file Prometheus can load, naming only the
metrics that Cordon's services export."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY

import cordon_core.observability
import cordon_core.outage
import cordon_core.supervision  # noqa: F401  (each module registers its metrics on import)

RULES = Path(__file__).resolve().parents[1] / "deploy" / "prometheus" / "cordon-alerts.yml"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
DURATION = re.compile(r"^\d+[smhd]$")


def exported_metric_names() -> set[str]:
    names: set[str] = set()
    for family in REGISTRY.collect():
        if family.name.startswith("cordon_"):
            names.update(family.name + s for s in SUFFIXES.get(family.type, ("",)))
    return names


def load_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_the_rule_file_has_the_shape_prometheus_loads() -> None:
    document = yaml.safe_load(RULES.read_text())
    assert set(document) == {"groups"}
    names = [group["name"] for group in document["groups"]]
    assert len(names) == len(set(names)), "group names must be unique"
    for group in document["groups"]:
        assert group["rules"], group["name"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
            assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rule["alert"]), rule["alert"]
            assert isinstance(rule["expr"], str) and rule["expr"].strip()
            assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
            assert "for" not in rule or DURATION.match(rule["for"]), rule["alert"]
            assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
            assert rule["annotations"]["summary"], rule["alert"]


def test_every_metric_an_alert_names_is_one_the_services_export() -> None:
    exported = exported_metric_names()
    used = {
        name for rule in load_rules() for name in re.findall(r"\bcordon_[a-z_]+\b", rule["expr"])
    }
    assert used, "no Cordon metric named in the rules"
    assert used <= exported, f"not exported by any service: {sorted(used - exported)}"


def test_the_alerts_cover_the_relay_backlog_the_consumer_lag_and_dead_tasks() -> None:
    used = " ".join(rule["expr"] for rule in load_rules())
    for metric in (
        "cordon_relay_backlog_events",
        "cordon_relay_backlog_age_seconds",
        "cordon_relay_last_publish_age_seconds",
        "cordon_consumer_lag",
        "cordon_background_task_up",
    ):
        assert metric in used, metric
