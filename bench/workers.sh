#!/usr/bin/env bash
# Throughput of `ner serve` by model worker setting, in turns (this machine's speed drifts):
#   bash bench/workers.sh [ROUNDS] [SECONDS] [CONNECTIONS]      (apt-get install wrk)
# Each round starts the server once per setting below and runs wrk against it with 8 texts of 28 tokens
# per request (bench/wrk_batch.lua, 224 tokens), after a 3 s warm-up. Prints requests/s and tokens/s.
set -euo pipefail
ROUNDS=${1:-3}
SECONDS_=${2:-15}
CONNECTIONS=${3:-16}
PORT=${PORT:-18322}
here=$(dirname "$0")
settings=("NER_WORKERS=1" "NER_WORKERS=1 NER_WORKER=process" "NER_WORKERS=2")
for round in $(seq 1 "$ROUNDS"); do
  for setting in "${settings[@]}"; do
    env $setting ner serve --port "$PORT" --device cpu >/tmp/ner-workers-server.log 2>&1 &
    server=$!
    for _ in $(seq 1 600); do curl -fs "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && break; sleep 0.2; done
    wrk -t1 -c4 -d3s -s "$here/wrk_batch.lua" "http://127.0.0.1:$PORT/tag" >/dev/null
    rps=$(wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_}s" -s "$here/wrk_batch.lua" "http://127.0.0.1:$PORT/tag" \
      | awk '/Requests\/sec/ {print $2}')
    errors=$(curl -fs "http://127.0.0.1:$PORT/metrics" | awk '/^ner_requests_total/ && !/status="200"/ {s += $2} END {print s + 0}')
    kill "$server"; wait "$server" 2>/dev/null || true
    printf 'round %d  %-34s %8.1f requests/s %9.0f tokens/s  non-200: %s\n' \
      "$round" "$setting" "$rps" "$(echo "$rps * 224" | bc)" "$errors"
  done
done
