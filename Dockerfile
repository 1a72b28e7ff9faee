# One image for every xenfleet process: the controller, the compress workers,
# and the host containers (`xenfleet run-host`). Built from the repository:
#   docker build -t xenfleet .
FROM node:20-bookworm AS build
# Build inputs of the native addon: a C toolchain, BLAKE3's C sources, and the
# libxl headers (the xen backend; without them it reports "built without libxl").
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential python3 librust-blake3-dev libxen-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
# libxl's shared libraries, for the xen backend on a real dom0.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libxenmisc4.17 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app /app
ENV NODE_ENV=production
# Workers hand their jobs back on SIGTERM; `docker stop` must wait for that
# (see stop_grace_period in docker-compose.yml).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "packages/cli/dist/main.js"]
CMD ["--help"]
