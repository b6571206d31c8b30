#!/usr/bin/env bash
# Sends one message to Herald and prints its status a second later.
#
#   HERALD_URL=http://localhost:8080 HERALD_KEY=hk_… docs/examples/send-message.sh [body.json | -]
#
# HERALD_KEY is a source API key (the banner of the first `npm start` prints one per demo
# source; `POST /v1/sources/{key}/api-keys` makes more). Without an argument the script sends
# the demo exam reminder (category exam.reminder, which the demo source jwc 教务处 may send) to
# 学号 2024010101; with a file name (or - for stdin) it sends that JSON body instead.
#
# The request carries an Idempotency-Key, and the script retries with the SAME key on a
# network error, 409 idempotency-in-progress, 429 or 5xx: a retry can never send twice.
# Set IDEMPOTENCY_KEY to choose the key yourself (e.g. your system's own notice id).
#
# Needs bash and curl; uses jq to pretty-print when it is installed.
set -euo pipefail

: "${HERALD_URL:?set HERALD_URL, e.g. http://localhost:8080}"
: "${HERALD_KEY:?set HERALD_KEY to a source API key (hk_…)}"
HERALD_URL=${HERALD_URL%/}

if [[ $# -ge 1 ]]; then
  body=$(cat -- "$1")
else
  body='{
  "category": "exam.reminder",
  "to": { "users": ["2024010101"] },
  "data": { "course": "植物生理学", "time": "2025-01-08 09:00–11:00", "room": "北区教学楼 A201", "seat": "17" }
}'
fi
key=${IDEMPOTENCY_KEY:-"send-$(date +%s)-$RANDOM$RANDOM"}

pretty() { if command -v jq >/dev/null 2>&1; then jq .; else cat; echo; fi; }

answer='' status=000
for attempt in 1 2 3 4 5; do
  [[ $attempt -gt 1 ]] && sleep $((attempt - 1))
  # -w appends the HTTP status on a line of its own; curl fails only on network errors.
  if answer=$(curl -sS -X POST "$HERALD_URL/v1/messages" \
    -H "Authorization: Bearer $HERALD_KEY" \
    -H 'Content-Type: application/json' \
    -H "Idempotency-Key: $key" \
    --data-binary "$body" \
    -w '\n%{http_code}'); then
    status=${answer##*$'\n'}
    answer=${answer%$'\n'*}
  else
    status=000 answer="{\"detail\": \"no answer from $HERALD_URL\"}"
  fi
  case $status in
    000 | 409 | 429 | 5??) echo "attempt $attempt: HTTP $status; retrying with the same Idempotency-Key" >&2 ;;
    *) break ;;
  esac
done

if [[ $status != 202 ]]; then
  echo "Not accepted (HTTP $status):" >&2
  printf '%s' "$answer" | pretty >&2
  exit 1
fi

echo "Accepted (Idempotency-Key: $key):"
printf '%s' "$answer" | pretty
id=$(printf '%s' "$answer" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')

sleep 1
echo "Status one second later (GET /v1/messages/$id):"
curl -sS "$HERALD_URL/v1/messages/$id" -H "Authorization: Bearer $HERALD_KEY" | pretty
