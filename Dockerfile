# One quorumkv node; ROLE and the rest come from the environment (see compose.yaml).
# Dependencies come from package-lock.json exactly (npm ci), in a Node.js stage: Bun does not
# install from npm's lockfile. The runtime is the Bun of package-lock.json (test/compose.test.ts).
FROM node:22-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM oven/bun:1.4.5-slim
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json tsconfig.json bunfig.toml ./
COPY src ./src
ENV HOST=0.0.0.0 PORT=5000
EXPOSE 5000
# DATA_DIR in compose: a named volume mounted here starts with this folder's owner, the bun user.
RUN mkdir /data && chown bun:bun /data
# The image's unprivileged user: a node needs no root, and a break-in gets none.
USER bun
# Bun runs as PID 1 and receives SIGTERM itself (no `bun run` wrapper in between).
CMD ["bun", "src/main.ts"]
