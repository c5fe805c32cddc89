#!/usr/bin/env bash
# HTTP load with wrk (a C load generator: the Python one in http_load.py saturates a core by itself).
#   bash bench/http_wrk.sh [CLIENTS] [SECONDS]      (apt-get install wrk)
# Starts `ner serve` on 127.0.0.1, runs CLIENTS connections for SECONDS (28-token sentence), then one
# connection alone with the same sentence and with a short one (7 tokens). Server settings come from
# the NER_* environment as usual, e.g. NER_THREADS=1 or NER_WORKER=process.
set -euo pipefail
CLIENTS=${1:-32}
SECONDS_=${2:-20}
PORT=${PORT:-18321}
here=$(dirname "$0")
ner serve --port "$PORT" --device cpu >/tmp/ner-wrk-server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && break; sleep 0.2; done
wrk -t1 -c4 -d2s -s "$here/wrk_post.lua" "http://127.0.0.1:$PORT/tag" >/dev/null  # warm-up
echo "== $CLIENTS connections, ${SECONDS_}s (28 tokens per request)"
wrk -t1 -c"$CLIENTS" -d"${SECONDS_}s" -s "$here/wrk_post.lua" --latency "http://127.0.0.1:$PORT/tag"
echo "== 1 connection, 10s (28 tokens)"
wrk -t1 -c1 -d10s -s "$here/wrk_post.lua" --latency "http://127.0.0.1:$PORT/tag"
echo "== 1 connection, 10s (7 tokens)"
wrk -t1 -c1 -d10s -s "$here/wrk_short.lua" --latency "http://127.0.0.1:$PORT/tag"
curl -fs "http://127.0.0.1:$PORT/metrics" | grep -E '^ner_batch_sentences_(sum|count)'
