# syntax=docker/dockerfile:1.7
# One image per Python service, chosen with a build argument (run from the repository root):
#   docker build -f deploy/docker/service.Dockerfile --build-arg SERVICE=ingest --build-arg PORT=4101 -t hotline/ingest .
# The image holds the platform kit, the shared domain data and that one service only.
#
# Base image pinned by tag; for a production build pin the digest as well, e.g.
#   ARG PYTHON_IMAGE=python:3.12-slim-bookworm@sha256:<digest from `docker buildx imagetools inspect`>
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN test -n "${SERVICE}" || (echo "build with --build-arg SERVICE=<ingest|indicators|scoring|appeals>" && false)
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hotline ./hotline
COPY services/__init__.py ./services/__init__.py
COPY services/${SERVICE} ./services/${SERVICE}
# Editable install: the sources stay in /app, where the migrations (not a Python package) are found too.
RUN pip install -e .

FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE
ARG PORT=8000
LABEL org.opencontainers.image.title="hotline-eval ${SERVICE}" \
      org.opencontainers.image.source="hotline-eval" \
      org.opencontainers.image.licenses="proprietary"
RUN groupadd --system --gid 10001 hotline \
 && useradd --system --uid 10001 --gid hotline --home-dir /nonexistent --shell /usr/sbin/nologin hotline
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=root:root /app /app
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOTLINE_ENV=production \
    HOTLINE_LOG_FORMAT=json \
    HOTLINE_SERVICE=${SERVICE} \
    HOTLINE_PORT=${PORT}
USER 10001:10001
EXPOSE ${PORT}
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"HOTLINE_PORT\"]}/healthz', timeout=2)"]
# One uvicorn worker per container: scale with replicas (the metrics need no multiprocess mode).
# Migrations run as a separate one-shot container/Job with this image:
#   alembic -c services/<service>/alembic.ini upgrade head
CMD ["sh", "-c", "exec uvicorn \"services.${HOTLINE_SERVICE}.app:create_app\" --factory --host 0.0.0.0 --port \"${HOTLINE_PORT}\" --no-access-log --proxy-headers --timeout-keep-alive 65 --timeout-graceful-shutdown 20"]
