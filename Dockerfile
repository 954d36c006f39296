# vault-loop: one image for every role (corpus host, stateless worker, dashboard); the compose
# file picks the role by the command it passes to the CLI entrypoint.
FROM node:20-slim

ENV NODE_ENV=production
WORKDIR /app

# Dependencies first, so a source change does not reinstall them. tsx is a runtime dependency:
# the CLI runs from the TypeScript sources, no build step.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

COPY bin ./bin
COPY src ./src
COPY dashboard ./dashboard
COPY prompts ./prompts
COPY tsconfig.json ./

# The image's own `node` user (uid 1000): the mounted vault must be writable by it.
RUN mkdir -p /vault && chown node:node /vault
USER node

ENTRYPOINT ["node", "/app/bin/vault-loop.js"]
CMD ["--help"]
