#!/usr/bin/env bash
# Stop Cordon's local Kafka/Tansu and PostgreSQL (data stays in the state directory).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export UV_PYTHON_DOWNLOADS="${UV_PYTHON_DOWNLOADS:-never}"
exec uv run --package cordon-devenv cordon-infra down "$@"
