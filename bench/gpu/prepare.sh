#!/bin/bash
# bench/gpu/prepare.sh (from ../shared/tools/gpu-check): packs what a GPU machine needs to run Nimble against llama.cpp's server, into .gpu/ of the project root
# (the GPU machine has no network and no Node.js; only 64 MiB travel). Run from the project root after `npm ci`.
# Then, with the device tool (it carries only the working tree, 64 MiB):
# copy run.sh into .gpu/ too (this script does), and call the device with carry [".gpu"] and command `bash .gpu/run.sh`.
set -eu
root=$(pwd); grep -q '^/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu /tmp/gpuapp && mkdir -p .gpu /tmp/gpuapp/native/build/Release
# 1. node itself (~24 MB compressed)
tar -cJf .gpu/node.tar.xz -C "$(dirname "$(readlink -f "$(command -v node)")")" node
# 2. llama.cpp source of the same release node-llama-cpp binds (~8 MB compressed)
src=$(mktemp -d); git clone -q node_modules/node-llama-cpp/llama/gitRelease.bundle "$src/llama.cpp"
tar --exclude=./.git --exclude=./models --exclude=./docs --exclude=./tests --exclude=./benches --exclude=./gguf-py --exclude=./conversion -cJf .gpu/llama-src.tar.xz -C "$src/llama.cpp" .
rm -rf "$src"
# 3. Nimble: built files and production dependencies, without other platforms' binaries and without the 159 MB prebuilt
#    libggml-cuda.so (rebuilt there from the source above)
cp -r package.json bin dist /tmp/gpuapp/ && rm -rf /tmp/gpuapp/dist/test
cp native/build/Release/*.node /tmp/gpuapp/native/build/Release/ 2>/dev/null || true
for d in $(npm ls --omit=dev --all --parseable 2>/dev/null | tail -n +2 | sed "s|$root/node_modules/||" | sort -u); do
  case "$d" in @node-llama-cpp/linux-x64-cuda|@node-llama-cpp/linux-x64) ;; @node-llama-cpp/*|typescript) continue;; esac
  mkdir -p "/tmp/gpuapp/node_modules/$(dirname "$d")"; cp -r "node_modules/$d" "/tmp/gpuapp/node_modules/$d"
done
rm -f /tmp/gpuapp/node_modules/node-llama-cpp/llama/gitRelease.bundle /tmp/gpuapp/node_modules/@node-llama-cpp/linux-x64-cuda/bins/*/libggml-cuda.so
tar -cJf .gpu/nimble.tar.xz -C /tmp/gpuapp . && rm -rf /tmp/gpuapp
cp "$(dirname "$0")/run.sh" .gpu/run.sh
du -sh .gpu; echo "now: device run, carry [\".gpu\"], command: bash .gpu/run.sh (about 6 minutes of device time)"
