# One parameterised image definition for every service of the monorepo.
#
#   docker buildx build --build-arg SERVICE=order-service -t ghcr.io/OWNER/order-service:1.2.3 .
#   scripts/build-images.sh [SERVICE...]          (the same for CI and humans; picks the engine)
#
# Stages: manifests (package.json files only) -> deps (full npm ci) -> build (tsc -b, shared by
# all services) ; prod-deps (npm ci --omit=dev for one workspace) -> assemble (that service's
# compiled workspaces) -> runtime. A source-only change rebuilds `build`, `assemble` and the last
# layer of `runtime`; the dependency layers stay cached.
# manifests, deps and build run on the BUILD platform (their output is JavaScript). prod-deps runs
# on the TARGET platform, because production dependencies include prebuilt native addons chosen
# per platform by npm (@node-rs/argon2 ships them as optional dependencies; install scripts stay
# off): an arm64 image gets the arm64 binaries (under emulation in buildx).
# Note for buildah 1.28 (Debian 12): its layer cache ignores build-arg VALUES in LABEL/ENV steps;
# scripts/build-images.sh re-applies the value-dependent labels and env at commit (--label/--env).
#
# Bases (pinned by digest, overridable): production builds on the official Node.js 26 image and
# runs on distroless Node.js 26 (Debian 13; no shell, no package manager): Node 26 is the active
# LTS line (.node-version). Where no registry is reachable,
# scripts/make-base-images.sh builds local stand-ins with the same layout (node at /nodejs/bin/node,
# user 65532) and they are passed as BUILD_BASE / RUNTIME_BASE.
ARG BUILD_BASE=docker.io/library/node:26-trixie-slim@sha256:930557a230abacbc3f4fd9b8648abf8f4bee1e17cb72195dcdfb2f709bc85b33
ARG RUNTIME_BASE=gcr.io/distroless/nodejs26-debian13:nonroot@sha256:2ee7b2c54a3e37dfc248af81c9f6bcdcaa50abe4af44aa47a3388431031b9283

# ---- manifests: only what npm needs to install (the dependency layers' cache key) -------------
FROM --platform=$BUILDPLATFORM ${BUILD_BASE} AS manifests
WORKDIR /src
COPY . .
# npm runs no scripts here (--ignore-scripts), so the "scripts" of package.json files are dropped:
# editing one must not invalidate the npm ci layers.
RUN mkdir -p /out \
 && find . -path ./node_modules -prune -o \( -name package.json -o -name package-lock.json \) -type f -print0 \
    | tar --null -T - -cf - | tar -C /out -xf - \
 && find /out -name package.json -exec node -e \
      'for (const f of process.argv.slice(1)) { const fs = require("fs"); const p = JSON.parse(fs.readFileSync(f, "utf8")); delete p.scripts; fs.writeFileSync(f, JSON.stringify(p, null, 2) + "\n"); }' {} +

# ---- deps: every workspace with dev dependencies (compilers), install scripts off -------------
FROM --platform=$BUILDPLATFORM ${BUILD_BASE} AS deps
WORKDIR /app
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
COPY --from=manifests /out/ ./
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --ignore-scripts --prefer-offline --no-audit --no-fund

# ---- build: compile every workspace once (not per service: shared by all five images) ---------
FROM deps AS build
COPY . .
RUN npx tsc -b $(ls -d packages/*/ services/*/ | sed 's:/$::')

# ---- prod-deps: production dependencies of ONE service, trimmed of what Node never loads ------
FROM ${BUILD_BASE} AS prod-deps
ARG SERVICE
WORKDIR /app
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
COPY --from=manifests /out/ ./
RUN test -n "${SERVICE}" && test -f "services/${SERVICE}/package.json" \
      || { echo "build arg SERVICE must name a folder of services/ (got '${SERVICE}')" >&2; exit 1; }
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --workspace "services/${SERVICE}" \
 && find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \
      -o -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -iname '*.md' -o -iname '*.markdown' \) -delete \
 && rm -rf node_modules/.package-lock.json node_modules/.bin \
 && find node_modules -maxdepth 2 -type l -printf '%l\n' | sed 's:^\.\./::; s:^\.\./::' > /app/.workspaces \
 && cat /app/.workspaces

# ---- assemble: the compiled workspaces this service links (itself, @mdp/platform, ...) --------
FROM build AS assemble
COPY --from=prod-deps /app/.workspaces /app/.workspaces
RUN mkdir -p /out \
 && while read -r ws; do \
      mkdir -p "/out/$ws" \
      && tar -C "$ws" --exclude=./src --exclude=./test --exclude=./dist/test --exclude='./tsconfig*.json' \
           --exclude='*.tsbuildinfo' --exclude='*.d.ts' --exclude='*.map' --exclude='*.test.js' \
           --exclude='./dist/src/test-support.js' -cf - . | tar -C "/out/$ws" -xf - ; \
    done < /app/.workspaces

# ---- runtime ------------------------------------------------------------------------------------
FROM ${RUNTIME_BASE} AS runtime
ARG SERVICE
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG SOURCE=https://github.com/OWNER/microservices-deployment-pipeline
ARG CREATED=1970-01-01T00:00:00Z
LABEL org.opencontainers.image.title="${SERVICE}" \
      org.opencontainers.image.description="mdp ${SERVICE} (online shop microservice)" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.url="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.vendor="mdp" \
      io.mdp.service="${SERVICE}"
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    SHUTDOWN_DRAIN_MS=3000 \
    SHUTDOWN_TIMEOUT_MS=10000 \
    OTEL_SERVICE_NAME="${SERVICE}" \
    SERVICE_VERSION="${VERSION}" \
    GIT_COMMIT="${REVISION}"
# Dependencies first: unchanged by source edits, so this layer is shared and cached.
COPY --from=prod-deps /app/node_modules /app/node_modules
COPY --from=assemble /out/ /app/
WORKDIR /app/services/${SERVICE}
USER 65532:65532
EXPOSE 8080
STOPSIGNAL SIGTERM
# Node is PID 1 and handles SIGTERM itself (the platform's Lifecycle: fail /readyz, drain, close
# server, consumers, pools, flush telemetry, exit 0). Migrations: run the image with the argument
# `dist/src/migrate.js` (PostgreSQL services).
ENTRYPOINT ["/nodejs/bin/node"]
CMD ["--import", "@mdp/platform/telemetry", "dist/src/server.js"]
