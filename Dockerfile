# The kubewire image for the in-cluster sidecar (`kubewire inject` adds it to a pod; see README,
# "Inside the cluster"). Build: docker build -t kubewire:dev .  Not built in CI (no image builder there).
FROM node:20-bookworm-slim AS build
WORKDIR /src
# better-sqlite3 compiles its addon with node-gyp
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 make g++ >/dev/null && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json ./
COPY src ./src
COPY bin ./bin
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/bin ./bin
# the sidecar runs unprivileged and writes only to its two emptyDirs
USER 65532:65532
ENV KUBEWIRE_HOME=/var/lib/kubewire NO_COLOR=1
ENTRYPOINT ["node", "/app/bin/kubewire.js"]
CMD ["start", "--in-cluster", "--listen", "127.0.0.1:18443", "--shared-dir", "/var/run/kubewire", "--state-dir", "/var/lib/kubewire"]
