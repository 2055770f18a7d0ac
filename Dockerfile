# Nimble, CPU image: `nimble serve` by default, `nimble router` with `router` as the command.
#   docker build -t nimble:cpu .
#   docker run -p 8000:8000 -v nimble-data:/data nimble:cpu serve --model hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf
# The model store (NIMBLE_HOME) is the /data volume; the process runs as the unprivileged user 10001.
# GPU: see Dockerfile.cuda.

FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# --ignore-scripts: node-llama-cpp's prebuilt binaries come as optional packages; the native thread-pool addon is built below.
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY bin ./bin
COPY native ./native
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npx tsc -p tsconfig.json \
 && (npx node-gyp rebuild -C native || echo "native thread-pool addon not built: Nimble runs without it") \
 && npm prune --omit=dev \
 && rm -rf node_modules/@node-llama-cpp/*cuda* node_modules/@node-llama-cpp/*vulkan* node_modules/@node-llama-cpp/*arm* node_modules/@node-llama-cpp/*riscv* dist/test dist/bench

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    NIMBLE_HOME=/data \
    NIMBLE_HOST=0.0.0.0 \
    NIMBLE_PORT=8000 \
    NIMBLE_ROUTER_HOST=0.0.0.0 \
    NIMBLE_GPU=cpu
RUN groupadd --system --gid 10001 nimble \
 && useradd --system --uid 10001 --gid nimble --home-dir /data --shell /usr/sbin/nologin nimble \
 && mkdir -p /data && chown nimble:nimble /data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/native ./native
COPY --from=build /app/node_modules ./node_modules
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000 8080
# Liveness of whichever command runs: the server on NIMBLE_PORT (8000), the router on NIMBLE_ROUTER_PORT or its
# default 8080 (a router.yaml that sets another port needs NIMBLE_ROUTER_PORT too, as deploy/ does).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20m --retries=3 \
  CMD node -e "Promise.any([process.env.NIMBLE_PORT||8000,process.env.NIMBLE_ROUTER_PORT||8080].map(p=>fetch('http://127.0.0.1:'+p+'/v1/health/live').then(r=>{if(!r.ok)throw new Error(r.status)}))).then(()=>process.exit(0),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/nimble.cjs"]
CMD ["serve"]
