# OWP Pool relay: a multi-stage build on Node 24 LTS.
# - build: every dependency, compiles the relay, the CLI and the dashboard into dist/
#   (scripts/build.ts; esbuild and tsx live only here).
# - runtime: production dependencies only, the compiled build, a non-root user.
# test/relay/runtime-image.test.ts rebuilds the runtime stage on the host from this file's
# COPY, ENV and `npm ci` lines and runs its CMD and HEALTHCHECK (no Docker engine needed).

FROM node:24-slim AS build
WORKDIR /app
# .npmrc holds legacy-peer-deps=true, which the lockfile was made with (obsidian peer deps).
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: `prepare` (the build) needs the sources, copied next.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY shared ./shared
COPY server ./server
RUN npm run build:server

FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production \
    OWP_HOST=0.0.0.0 \
    OWP_PORT=8787 \
    OWP_DATA=/data \
    NODE_COMPILE_CACHE=/tmp/node-compile-cache
COPY package.json package-lock.json .npmrc ./
# Production dependencies only: no tsx, no esbuild. classic-level (LevelDB) loads its prebuilt
# binary, so no install script is needed.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin

RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8787

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.OWP_PORT||8787)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# test/relay/process.test.ts and runtime-image.test.ts run exactly this command line.
CMD ["node", "dist/main.js"]
