# OWP Pool relay. tsx is a runtime dependency (the server runs its TypeScript directly),
# so `npm ci --omit=dev` installs everything the relay needs and nothing else.
FROM node:20-slim

WORKDIR /app
ENV NODE_ENV=production \
    OWP_HOST=0.0.0.0 \
    OWP_PORT=8787 \
    OWP_DATA=/data

# .npmrc holds legacy-peer-deps=true, which the lockfile was made with (obsidian peer deps).
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev && npm cache clean --force

COPY tsconfig.json ./
COPY bin ./bin
COPY shared ./shared
COPY server ./server

RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8787

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.OWP_PORT||8787)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# test/relay-process.test.ts runs exactly this command line (with OWP_DATA in a temp dir).
CMD ["node", "--import", "tsx", "server/main.ts"]
