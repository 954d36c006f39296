# vault-loop: one image for every role (corpus host, stateless worker, dashboard); the compose
# file picks the role by the command it passes to the CLI entrypoint.

# Build stage: the full install, then the CLI bundled into dist/cli (esbuild, a dev dependency).
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` (the build) needs the sources, copied below; dependencies first, so a
# source change does not reinstall them.
RUN npm ci --ignore-scripts
COPY bin ./bin
COPY src ./src
COPY dashboard ./dashboard
RUN npm run build

# Run stage: production dependencies and the built CLI; no TypeScript, no tsx, no esbuild.
FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY bin ./bin
COPY prompts ./prompts
COPY --from=build /app/dist ./dist

# The image's own `node` user (uid 1000): the mounted vault must be writable by it.
RUN mkdir -p /vault && chown node:node /vault
USER node

ENTRYPOINT ["node", "/app/bin/vault-loop.js"]
CMD ["--help"]
