# PenguiFlow gRPC flow service.
#
#   docker build -t penguiflow .          (or: podman build --format docker -t penguiflow .)
#   docker run -p 50051:50051 -p 9464:9464 -e PENGUIFLOW_AUTH=header penguiflow
#
# The image runs with NODE_ENV=production, where auth mode `none` is refused:
# choose PENGUIFLOW_AUTH=jwt, mtls or header (header only behind a mesh
# sidecar that sets x-tenant-id). See README "Operations".

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- manifest: package.json without "scripts", so that editing a script does
# not invalidate the (slow) dependency layer below ----
FROM ${NODE_IMAGE} AS manifest
WORKDIR /app
COPY package.json package.json.full
RUN node -e 'const fs = require("fs"); const p = JSON.parse(fs.readFileSync("package.json.full", "utf8")); delete p.scripts; fs.writeFileSync("package.json", JSON.stringify(p, null, 2) + "\n");'

# ---- build: full install (dev dependencies, native addons), compile, prune ----
FROM ${NODE_IMAGE} AS build
# better-sqlite3 compiles with node-gyp when no prebuilt binary can be fetched.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# Build native addons against the headers shipped in the image (/usr/local/include/node)
# instead of downloading them from nodejs.org.
ENV npm_config_nodedir=/usr/local \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
WORKDIR /app
# Dependency layer: cached until the dependencies or the lockfile change. The
# lockfile declares the clients/typescript workspace, so its package.json
# must be present. The npm cache survives between builds (cache mount).
COPY --from=manifest /app/package.json ./
COPY package-lock.json ./
COPY clients/typescript/package.json clients/typescript/
RUN --mount=type=cache,target=/root/.npm npm ci
COPY package.json tsconfig.json tsconfig.build.json ./
COPY src/ src/
RUN npm run build \
 && npm prune --omit=dev \
 && rm -rf node_modules/@penguiflow

# ---- runtime: production dependencies + compiled output, non-root ----
FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="penguiflow" \
      org.opencontainers.image.description="PenguiFlow gRPC flow service" \
      org.opencontainers.image.licenses="MIT"
ENV NODE_ENV=production \
    PENGUIFLOW_HOST=0.0.0.0 \
    PENGUIFLOW_PORT=50051 \
    PENGUIFLOW_OPS_PORT=9464 \
    PENGUIFLOW_STORE=sqlite:/app/data/penguiflow.db \
    NODE_OPTIONS=--enable-source-maps
WORKDIR /app
COPY --from=build --chown=0:0 /app/package.json ./
COPY --from=build --chown=0:0 /app/node_modules/ node_modules/
COPY --from=build --chown=0:0 /app/dist/ dist/
COPY --chown=0:0 deploy/container/healthcheck.cjs ./healthcheck.cjs
# The embedded SQLite store (PENGUIFLOW_STORE default) writes here: the only
# writable path. Mount a volume (Kubernetes: emptyDir or a PVC) or use
# PENGUIFLOW_STORE=postgres://... for a fleet of replicas.
RUN mkdir -p /app/data && chown 1000:1000 /app/data
VOLUME ["/app/data"]
# Application files are root-owned and read-only to the service user; it
# writes only to /app/data, so a read-only root filesystem works.
# UID 1000 is `node` in the base image.
USER 1000:1000
EXPOSE 50051 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "/app/healthcheck.cjs", "/readyz"]
# node is PID 1 and handles SIGTERM itself (readiness off, drain up to
# PENGUIFLOW_DRAIN_TIMEOUT_MS, exit 0). No npm or shell wrapper: they would
# not forward the signal. Give the runtime a stop timeout above the drain
# timeout (docker/podman stop -t 15; Kubernetes terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
CMD ["node", "dist/server/main.js"]
