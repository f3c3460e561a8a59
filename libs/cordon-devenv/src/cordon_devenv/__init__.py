"""Real local infrastructure (Apache Kafka or Tansu, PostgreSQL) on loopback for Cordon."""

from cordon_devenv.errors import InfraError
from cordon_devenv.infra import (
    Infrastructure,
    infrastructure_status,
    start_infrastructure,
    start_infrastructure_async,
    stop_infrastructure,
)

__all__ = [
    "InfraError",
    "Infrastructure",
    "infrastructure_status",
    "start_infrastructure",
    "start_infrastructure_async",
    "stop_infrastructure",
]
