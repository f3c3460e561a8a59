"""Cordon's test harness: real infrastructure, per-test isolation, polling waits."""

from cordon_testing.kafka import read_topic
from cordon_testing.processes import ServiceProcess
from cordon_testing.waiting import wait_until

__all__ = ["ServiceProcess", "read_topic", "wait_until"]
