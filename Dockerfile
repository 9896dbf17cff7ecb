# One quorumkv node; ROLE and the rest come from the environment (see compose.yaml).
FROM oven/bun:1.4-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN bun install --production
COPY tsconfig.json bunfig.toml ./
COPY src ./src
ENV HOST=0.0.0.0 PORT=5000
EXPOSE 5000
# Bun runs as PID 1 and receives SIGTERM itself (no `bun run` wrapper in between).
CMD ["bun", "src/main.ts"]
