#!/usr/bin/env bash
# Start (or reuse) Cordon's local Kafka and PostgreSQL; prints `export ...` lines.
# Usage: deploy/local/up.sh [--broker auto|kafka|tansu] [--kafka-port N] [--postgres-port N]
#        eval "$(deploy/local/up.sh)"   # to load the variables into this shell
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export UV_PYTHON_DOWNLOADS="${UV_PYTHON_DOWNLOADS:-never}"
exec uv run --package cordon-devenv cordon-infra up "$@"
