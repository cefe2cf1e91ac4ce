#!/usr/bin/env bash
# Black-box tests of `edgereason serve` with real clients: starts the server on a free loopback
# port and runs tests/server/test_server_clients.py (the openai package, raw HTTP, curl, client
# disconnects, a full queue), tests/server/fuzz_server.py (schemathesis from docs/openapi.yaml:
# no 5xx, the server alive afterwards), a second server with an API key (401s), SIGTERM during a
# request (it completes, new ones get 503, exit 0 within 30 s), and `serve --host 0.0.0.0`
# without a key (exit 2). About 3-4 minutes on 2 cores with SmolLM2-135M.
#
# Usage: scripts/test-server.sh [--bin PATH] [-m MODEL] [--no-fuzz] [--fuzz-examples N] [--threads N]
#   --bin PATH          the binary (default build/bin/edgereason)
#   -m MODEL            a GGUF path (default models/smollm2.gguf, else build/fixtures/tiny-llama-f32.gguf)
#   --no-fuzz           skip schemathesis
#   --fuzz-examples N   test cases per operation and phase (default 30)
#   --threads N         the server's -t (default 2)
#
# Python packages (openai, schemathesis, requests; pinned below) live in a venv outside the
# repository: ${EDGEREASON_SERVER_VENV:-$HOME/.cache/edgereason/server-venv}, created on first use.
set -euo pipefail

OPENAI_VERSION=3.63.0
SCHEMATHESIS_VERSION=4.32.5
REQUESTS_VERSION=2.34.2

# The server's settings; the client tests are told the same values.
PARALLEL=2
QUEUE=4
CTX=1024
MAX_N=4
MAX_BODY=65536

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

bin=build/bin/edgereason
model=""
fuzz=1
fuzz_examples=30
threads=2
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=${2:?--bin needs a path}; shift ;;
    -m|--model) model=${2:?-m needs a model}; shift ;;
    --no-fuzz) fuzz=0 ;;
    --fuzz-examples) fuzz_examples=${2:?}; shift ;;
    --threads|-t) threads=${2:?}; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test-server: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

say() { printf 'test-server: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
t_start=$SECONDS

# ---- the venv -------------------------------------------------------------------------------------
venv=${EDGEREASON_SERVER_VENV:-$HOME/.cache/edgereason/server-venv}
py=$venv/bin/python
pins="openai==$OPENAI_VERSION schemathesis==$SCHEMATHESIS_VERSION requests==$REQUESTS_VERSION"
stamp=$venv/edgereason-pins
if [ ! -x "$py" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$pins" ]; then
  say "creating the Python venv $venv ($pins)"
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  python3 -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  # shellcheck disable=SC2086
  "$py" -m pip install --quiet $pins || { rm -rf "$venv"; die "pip install $pins failed"; }
  echo "$pins" >"$stamp"
fi
"$py" -c 'import openai, schemathesis, requests' || die "the venv $venv does not import its packages; remove it and rerun"
say "venv $venv: $("$py" -c 'import openai, schemathesis; print("openai", openai.__version__, "schemathesis", schemathesis.__version__)' 2>/dev/null)"

# ---- binary and model -----------------------------------------------------------------------------
[ -x "$bin" ] || die "no binary $bin (build first: cmake --build build)"
"$bin" serve --help >/dev/null 2>&1 || die "$bin has no working 'serve' command ($bin serve --help fails)"
if [ -z "$model" ]; then
  if [ -f models/smollm2.gguf ]; then model=models/smollm2.gguf
  elif [ -f build/fixtures/tiny-llama-f32.gguf ]; then model=build/fixtures/tiny-llama-f32.gguf
  else die "no model: pass -m MODEL (scripts/get-models.sh installs models/smollm2.gguf)"; fi
fi
[ -f "$model" ] || die "no model file $model"
model_name=$(basename "$model" .gguf)
say "binary $bin, model $model (id $model_name)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/edgereason-test-server.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do
    if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; fi
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

healthy() {  # URL: GET /health answers 200
  "$py" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/health", timeout=2)' "$1" >/dev/null 2>&1
}
free_port() { "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

failed=()
fail() { failed+=("$1"); say "FAIL: $1"; }

# Starts a server in the background: start_server LOG ARGS...; sets server_pid, base_url.
start_server() {
  local log=$1; shift
  local port
  port=$(free_port)
  base_url=http://127.0.0.1:$port
  "$bin" serve -m "$model" --host 127.0.0.1 --port "$port" "$@" 2>"$log" &
  server_pid=$!
  pids+=("$server_pid")
  local deadline=$((SECONDS + 60))
  while :; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      local rc=0; wait "$server_pid" || rc=$?
      say "the server exited ($rc) before answering /health; its log:"; tail -n 20 "$log" >&2
      return 1
    fi
    if healthy "$base_url"; then break; fi
    if [ $SECONDS -ge $deadline ]; then
      say "the server did not answer /health within 60 s; its log:"; tail -n 20 "$log" >&2
      return 1
    fi
    sleep 0.2
  done
  if ! grep -q "edgereason serve: listening on http://127.0.0.1:$port" "$log"; then
    say "no 'edgereason serve: listening on http://127.0.0.1:$port (...)' line on stderr:"; tail -n 5 "$log" >&2
    fail "listening line"
  fi
  say "server pid $server_pid ready at $base_url after $((SECONDS - deadline + 60)) s: $(grep -m1 'listening on' "$log" || true)"
}

# SIGTERM, unless its log shows it is stopping already (the sigterm check sent one: a second one
# could land after the server restored the default action, on its way out), and waits up to 30 s
# for exit status 0.
stop_server() {  # NAME LOG
  local name=$1 log=$2 rc=0 deadline=$((SECONDS + 30))
  if ! grep -q 'edgereason serve: stopping' "$log"; then kill -TERM "$server_pid" 2>/dev/null || true; fi
  while kill -0 "$server_pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  if kill -0 "$server_pid" 2>/dev/null; then
    fail "$name: still running 30 s after SIGTERM"
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  wait "$server_pid" || rc=$?
  if [ "$rc" = 0 ]; then say "$name: exited 0 after SIGTERM"; else fail "$name: exit status $rc after SIGTERM (want 0)"; fi
}

# ---- non-loopback host without a key --------------------------------------------------------------
say "serve --host 0.0.0.0 without an API key must exit 2 before listening"
rc=0
timeout 60 "$bin" serve -m "$model" --host 0.0.0.0 --port "$(free_port)" 2>"$tmp/insecure.log" || rc=$?
if [ "$rc" = 2 ]; then say "ok: exit 2: $(head -n 1 "$tmp/insecure.log")"
elif [ "$rc" = 124 ]; then fail "--host 0.0.0.0 without a key: still running after 60 s (it listened)"
else fail "--host 0.0.0.0 without a key: exit $rc, want 2 ($(head -n 1 "$tmp/insecure.log"))"; fi

# ---- the main server ------------------------------------------------------------------------------
say "starting the server: --parallel $PARALLEL --queue $QUEUE -c $CTX -t $threads --max-body-bytes $MAX_BODY --max-n $MAX_N"
start_server "$tmp/server.log" --parallel "$PARALLEL" --queue "$QUEUE" -c "$CTX" -t "$threads" \
  --max-body-bytes "$MAX_BODY" --max-n "$MAX_N" || die "the server did not start"
main_pid=$server_pid
common=(--base-url "$base_url" --model-name "$model_name" --parallel "$PARALLEL" --queue "$QUEUE" --ctx "$CTX"
        --max-n "$MAX_N" --max-body-bytes "$MAX_BODY")

# True while the main server runs; otherwise records the failure once, with the end of its log.
main_alive() {
  kill -0 "$main_pid" 2>/dev/null && return 0
  if [ -z "${main_dead:-}" ]; then
    main_dead=1
    local rc=0; wait "$main_pid" || rc=$?
    fail "the main server died (exit $rc) $1; the end of its log:"
    tail -n 15 "$tmp/server.log" >&2
  fi
  return 1
}

say "client tests (tests/server/test_server_clients.py)"
t0=$SECONDS
"$py" tests/server/test_server_clients.py "${common[@]}" || fail "client tests (see the FAIL lines above)"
say "client tests: $((SECONDS - t0)) s"

if [ "$fuzz" = 1 ] && main_alive "during the client tests"; then
  say "fuzzing (tests/server/fuzz_server.py: schemathesis, $fuzz_examples cases per operation and phase)"
  t0=$SECONDS
  "$py" tests/server/fuzz_server.py --base-url "$base_url" --spec docs/openapi.yaml --max-examples "$fuzz_examples" \
    --max-n "$MAX_N" --server-pid "$main_pid" || fail "fuzzing (5xx responses or the server died; see above)"
  say "fuzzing: $((SECONDS - t0)) s"
fi

if main_alive "before the SIGTERM check"; then
  say "SIGTERM during a request (the in-flight one completes, new ones get 503, exit 0)"
  "$py" tests/server/test_server_clients.py "${common[@]}" --only sigterm --server-pid "$main_pid" || fail "SIGTERM checks"
  stop_server "main server" "$tmp/server.log"
fi
if grep -qiE 'sanitizer|segmentation|assert|terminate called' "$tmp/server.log"; then
  fail "the server log holds a crash report"; grep -iE -A1 -m5 'sanitizer|segmentation|assert|terminate called' "$tmp/server.log" >&2
fi

# ---- a server with an API key ---------------------------------------------------------------------
key="er-test-$$-$RANDOM$RANDOM"
printf '%s\n' "$key" >"$tmp/api-key"
chmod 600 "$tmp/api-key"
say "a server with --api-key-file: 401 without the key, /health open"
if start_server "$tmp/server-auth.log" --parallel 1 --queue 2 -c 512 -t "$threads" --api-key-file "$tmp/api-key"; then
  "$py" tests/server/test_server_clients.py --base-url "$base_url" --model-name "$model_name" --api-key "$key" \
    --only auth || fail "auth checks"
  stop_server "server with a key" "$tmp/server-auth.log"
else
  fail "the server with --api-key-file did not start"
fi

say "done in $((SECONDS - t_start)) s"
if [ ${#failed[@]} -gt 0 ]; then
  say "${#failed[@]} failure(s):"
  for f in "${failed[@]}"; do say "  - $f"; done
  exit 1
fi
say "all server tests passed"
