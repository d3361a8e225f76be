# Qwip's service as a container, for hosts other than Railway (which builds from the Procfile).
# `scripts/dockerfile-dry-run.mjs` runs these same steps without a container engine; CI runs it
# on every change, so this file cannot rot unseen. Build: docker build -t qwip .
# Run: docker run -p 8000:8000 --env-file .env qwip   (settings: .env.example)

# ---- build: every dependency, then compile the TypeScript --------------------------------
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json tsconfig.json ./
COPY packages/core/package.json packages/core/
COPY packages/adapters/package.json packages/adapters/
COPY packages/http/package.json packages/http/
COPY packages/cli/package.json packages/cli/
COPY tests/package.json tests/
COPY tests/support/package.json tests/support/
# No install scripts: the lockfile's prebuilt platform packages are all that runs.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY packages/core packages/core
COPY packages/adapters packages/adapters
COPY packages/http packages/http
COPY packages/cli packages/cli
RUN npx tsc -b packages/cli

# ---- runtime: production dependencies and the compiled service only ------------------------
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production PORT=8000 QWIP_DATA_DIR=/home/node/qwip
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY packages/adapters/package.json packages/adapters/
COPY packages/http/package.json packages/http/
COPY packages/cli/package.json packages/cli/
COPY tests/package.json tests/
COPY tests/support/package.json tests/support/
# The npm cache goes in a folder of its own, removed in the same layer.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --cache .npm-cache && rm -rf .npm-cache
COPY --from=build /app/packages/core/dist packages/core/dist
COPY --from=build /app/packages/adapters/dist packages/adapters/dist
COPY --from=build /app/packages/adapters/migrations packages/adapters/migrations
COPY --from=build /app/packages/http/dist packages/http/dist
COPY --from=build /app/packages/http/public packages/http/public
COPY --from=build /app/packages/cli/dist packages/cli/dist
COPY --from=build /app/packages/cli/bin packages/cli/bin
# An unprivileged user. The embedded store (used only without DATABASE_URL or SUPABASE_URL) goes
# in its home, which the service creates 0700.
USER node
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/readyz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "packages/cli/bin/qwip.js", "serve"]
