# syntax=docker/dockerfile:1
# cosell-sync: a multi-stage build. The build stage compiles TypeScript and the sqlite3 addon; the
# runtime stage holds only production dependencies, runs as the unprivileged `node` user and keeps
# its state (the SQLite store, token caches) in the /data volume.

ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
# sqlite3 compiles from source when no prebuilt binary matches.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY connectors ./connectors
COPY bench ./bench
COPY bin ./bin
# `npm ci` runs `prepare`, which builds dist/.
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# NODE_OPTIONS bounds V8's old space (docs/operations.md, "Memory"); override it with -e.
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-old-space-size=256 \
    COSELL_HTTP_PORT=8787
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY mappings ./mappings
COPY config/docker.yaml /etc/cosell-sync/config.yaml
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8787
# /healthz answers while the process is alive; /readyz (for orchestrators) also checks the store,
# mappings, pull freshness and clock.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.COSELL_HTTP_PORT||8787)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM stops the daemon gracefully (running jobs finish within outbox.shutdownGrace).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/cosell-sync.js"]
CMD ["run", "--config", "/etc/cosell-sync/config.yaml"]
