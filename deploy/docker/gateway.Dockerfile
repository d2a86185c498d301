# syntax=docker/dockerfile:1.7
# The gateway image (Hive Gateway runtime over the supergraph it composes at start-up):
#   docker build -f deploy/docker/gateway.Dockerfile -t hotline/gateway gateway/
#
# Base image pinned by tag; for a production build pin the digest as well, e.g.
#   ARG NODE_IMAGE=node:22-bookworm-slim@sha256:<digest from `docker buildx imagetools inspect`>
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
# The OpenTelemetry packages are optional dependencies (~110 MB): --build-arg WITH_OTEL=0 leaves them
# out for an image that never traces (HOTLINE_OTEL_EXPORTER must then stay `none`).
ARG WITH_OTEL=1
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev $([ "$WITH_OTEL" = 1 ] || echo --omit=optional) --no-audit --no-fund --loglevel=error \
 && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="hotline-eval gateway" org.opencontainers.image.source="hotline-eval"
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY package.json server.mjs compose.mjs cors.mjs rest.mjs response-cache.mjs trusted-documents.mjs persisted-documents.json ./
ENV NODE_ENV=production \
    HOTLINE_ENV=production \
    HOTLINE_LOG_FORMAT=json \
    HOTLINE_GATEWAY_HOST=0.0.0.0 \
    HOTLINE_GATEWAY_PORT=4000 \
    HOTLINE_SUPERGRAPH_PATH=/tmp/supergraph.graphql
# The node image's unprivileged user (uid 1000).
USER node
EXPOSE 4000
HEALTHCHECK --interval=15s --timeout=3s --start-period=40s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:4000/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "server.mjs"]
