# The ech-remote image (worker and codec server). Build stage: the same `npm ci` + `npm run build` as a developer's
# machine (lib/ and the prebuilt lib/workflow-bundle.js). Runtime stage: production dependencies only, non-root.
# test/deploy/dockerfile.test.ts replays the build stage outside Docker and checks the artifacts.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
# Two malloc arenas instead of glibc's 8 per core: the worker's threads (V8's, the Temporal core's) otherwise each keep
# freed memory of their own; with 500 runs waiting, ~50 MB less RSS (docs/benchmarks.md).
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/lib ./lib
COPY bin ./bin
# The node image's unprivileged user; nothing in /app is writable by it.
USER node
ENTRYPOINT ["node", "bin/ech-remote.js"]
CMD ["worker"]
