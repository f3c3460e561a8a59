# syntax=docker/dockerfile:1
#
# Every Cordon service, one recipe. Build from the repository root (the uv workspace),
# naming the service directory and its port (the port plan is in docker-compose.yml):
#   docker build -f deploy/docker/service.Dockerfile \
#       --build-arg SERVICE=gate --build-arg PORT=8101 -t cordon/gate:local .
# SERVICE=<name> installs the workspace member cordon-<name> and runs `python -m
# cordon_<name>`; both args are required. The service's operator CLI is on PATH too:
# `docker compose run --rm projector cordon-projector rebuild`.

# Both stages must use the same interpreter: the venv's bin/python is a symlink to it.
ARG PYTHON_IMAGE=python:3.11-slim
# Pinned to the uv used in development, so `--frozen` reads uv.lock exactly as in dev.
ARG UV_VERSION=0.13.9


# --- build: resolve nothing, install exactly what uv.lock says ---------------------------
FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION

# Use the image's interpreter (never download a managed CPython), build the venv where the
# runtime stage expects it, precompile bytecode (the runtime venv is read-only), and copy
# rather than hard-link out of the cache mount, which is a different filesystem.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

RUN pip install "uv==${UV_VERSION}"

WORKDIR /src
# The whole workspace is needed: uv.lock lists every member, and each service's workspace
# dependencies (cordon-core, cordon-contracts) are built from libs/.
COPY pyproject.toml uv.lock ./
COPY libs/ libs/
COPY services/ services/

# Declared as late as possible: an ARG is part of the cache key of every RUN after it, so
# the layers above are shared by all the services' images.
ARG SERVICE
ARG PORT

# Fail early and clearly on a missing or malformed arg, rather than with uv's "package not
# found" or a container that cannot bind its port.
# --no-editable: members are installed as real wheels into /app/.venv, so the runtime
# stage needs only the venv, not /src. --no-dev leaves out pytest, ruff, mypy...
RUN --mount=type=cache,target=/root/.cache/uv \
    : "${SERVICE:?pass --build-arg SERVICE=<directory under services/>}" \
 && case "${PORT}" in ''|*[!0-9]*) echo "pass --build-arg PORT=<number>, got '${PORT}'" >&2; exit 1;; esac \
 && uv sync --frozen --no-dev --no-editable --package cordon-${SERVICE}


# --- runtime: the venv on a clean base, as an unprivileged user --------------------------
FROM ${PYTHON_IMAGE} AS runtime

# A fixed numeric uid lets orchestrators verify runAsNonRoot without a passwd lookup.
RUN groupadd --system --gid 10001 cordon \
 && useradd --system --uid 10001 --gid cordon --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin cordon

# Owned by root: the service can read its code but never rewrite it.
COPY --from=build /app/.venv /app/.venv

# Each stage sees only the ARGs it declares itself.
ARG SERVICE
ARG PORT

# The venv first on PATH, so `python` is the venv's interpreter. ServiceSettings defaults
# to 127.0.0.1, which is unreachable from outside a container, hence CORDON_HTTP_HOST.
# CORDON_SERVICE_MODULE carries SERVICE into CMD, which (exec form) expands nothing itself;
# ServiceSettings ignores CORDON_* names that are not its fields.
ENV PATH="/app/.venv/bin:${PATH}" \
    VIRTUAL_ENV=/app/.venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CORDON_HTTP_HOST=0.0.0.0 \
    CORDON_HTTP_PORT=${PORT} \
    CORDON_SERVICE_MODULE=cordon_${SERVICE}

WORKDIR /app
USER 10001:10001
EXPOSE ${PORT}

# Ready = migrations applied, Kafka producer/consumers started and PostgreSQL answering.
# urlopen raises on 503 or a refused connection, which exits non-zero (unhealthy).
# Slim images have no curl, hence Python. Reads the port at run time, so it follows a
# CORDON_HTTP_PORT overridden by the orchestrator.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/ready' % os.environ['CORDON_HTTP_PORT'], timeout=4)"]

# `exec` replaces the shell, so python is PID 1 and receives SIGTERM itself (uvicorn
# drains in-flight requests and the runtime stops its consumers).
CMD ["sh", "-c", "exec python -m \"$CORDON_SERVICE_MODULE\""]
