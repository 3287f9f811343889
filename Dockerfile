# The worker image: build (compile + prebuilt workflow bundle) in one stage, run as non-root in the next.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/lib ./lib
COPY --from=build /app/package.json ./package.json
COPY bin ./bin
USER node
ENTRYPOINT ["node", "bin/ech-remote.js"]
CMD ["worker"]
