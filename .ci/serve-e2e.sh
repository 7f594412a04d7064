#!/usr/bin/env bash
# serve-e2e.sh: the end-to-end test of `refkit serve`. It builds the real
# binaries, makes a signing key and a JWKS (refkit-load keygen), starts
# `refkit serve` on SQLite and then on PostgreSQL (REFKIT_TEST_POSTGRES_URL, in
# a schema of its own; skipped with a message when the variable is unset), and
# runs the whole referral loop for two networks with curl and minted JWTs,
# checking every status, that network A cannot see network B's referral (404),
# that bad tokens are refused (401), that /metrics shows the counters, and that
# SIGTERM stops the server cleanly (exit 0). Everything listens on 127.0.0.1.
#
#   .ci/serve-e2e.sh            # from the repository root
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

WORK=$(mktemp -d /tmp/refkit-e2e.XXXXXX)
SERVE_PID=
cleanup() {
  if [ -n "$SERVE_PID" ] && kill -0 "$SERVE_PID" 2>/dev/null; then kill "$SERVE_PID" || true; wait "$SERVE_PID" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "serve-e2e: FAIL: $*" >&2; [ -f "$WORK/serve.log" ] && tail -20 "$WORK/serve.log" >&2; exit 1; }

echo "serve-e2e: building"
go build -o "$WORK/refkit" ./cmd/refkit
go build -o "$WORK/refkit-load" ./cmd/refkit-load
"$WORK/refkit-load" keygen --out "$WORK/keys" >/dev/null

ISSUER=https://id.refkit.test
AUDIENCE=refkit
token() { # network organization role [person]
  local args=(--key "$WORK/keys/signing-key.pem" --issuer "$ISSUER" --audience "$AUDIENCE" --network "$1" --role "$3" --user "e2e-$3")
  [ -n "$2" ] && args+=(--organization "$2")
  [ -n "${4:-}" ] && args+=(--person "$4")
  "$WORK/refkit-load" token "${args[@]}"
}
uuid() { "$WORK/refkit-load" id; }

BASE=
# req EXPECTED TOKEN METHOD PATH [BODY] [extra curl args...]: the body of the
# answer goes to $WORK/body; fails unless the status is EXPECTED.
req() {
  local want=$1 tok=$2 method=$3 path=$4 body=${5:-}
  shift 5 2>/dev/null || shift $#
  local args=(-sS -o "$WORK/body" -w '%{http_code}' -X "$method" "$BASE$path")
  [ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data "$body")
  local got
  got=$(curl "${args[@]}" "$@") || fail "$method $path: curl failed"
  [ "$got" = "$want" ] || fail "$method $path: status $got, want $want: $(cat "$WORK/body")"
}

# start_serve ARGS...: starts refkit serve on a free port and sets BASE.
start_serve() {
  : > "$WORK/serve.log"
  "$WORK/refkit" serve --addr 127.0.0.1:0 --jwks-file "$WORK/keys/jwks.json" --issuer "$ISSUER" --audience "$AUDIENCE" \
    --sweep-interval 1s --shutdown-grace 5s "$@" 2>"$WORK/serve.log" &
  SERVE_PID=$!
  local addr=
  for _ in $(seq 1 100); do
    addr=$(grep -o '"msg":"serving","addr":"[^"]*"' "$WORK/serve.log" | sed 's/.*"addr":"//; s/"$//' || true)
    [ -n "$addr" ] && break
    kill -0 "$SERVE_PID" 2>/dev/null || fail "refkit serve exited at start"
    sleep 0.1
  done
  [ -n "$addr" ] || fail "refkit serve did not start"
  BASE="http://$addr"
}

stop_serve() {
  kill -TERM "$SERVE_PID"
  local code=0
  wait "$SERVE_PID" || code=$?
  SERVE_PID=
  [ "$code" = 0 ] || fail "refkit serve exited with $code on SIGTERM"
  grep -q '"msg":"stopped"' "$WORK/serve.log" || fail "no clean stop in the log"
}

# loop NAME: sets up one network and runs a referral through the whole loop;
# leaves the referral's id in REF_<NAME> and the tokens in TOK_<NAME>_*.
loop() {
  local name=$1 net clinic pantry person admin sender receiver delegate ref
  net=$(uuid); clinic=$(uuid); pantry=$(uuid); person=$(uuid)
  admin=$(token "$net" "$clinic" admin)
  sender=$(token "$net" "$clinic" staff)
  receiver=$(token "$net" "$pantry" staff)
  delegate=$(token "$net" "" delegate "$person")
  req 200 "$admin" PUT /network "{\"name\":\"Network $name\"}"
  req 200 "$admin" PUT "/organizations/$clinic" '{"name":"Clinic"}'
  req 200 "$admin" PUT "/organizations/$pantry" '{"name":"Food pantry"}'
  req 200 "$receiver" PUT "/services/$(uuid)" "{\"organization_id\":\"$pantry\",\"name\":\"Pantry\",\"status\":\"active\",\"domains\":[\"food-insecurity\"],\"locations\":[{\"id\":\"$(uuid)\",\"latitude\":39.96,\"longitude\":-83.0}]}"
  req 200 "$sender" PUT "/persons/$person" '{"household_size":2,"location":{"latitude":39.97,"longitude":-83.01}}'
  req 200 "$sender" PUT "/consents/$(uuid)" "{\"person_id\":\"$person\",\"grantee_organization_id\":\"$pantry\",\"scope\":\"referral\"}"
  req 201 "$sender" POST /screenings "{\"person_id\":\"$person\",\"instrument\":\"hunger-vital-sign\",\"answers\":{\"88122-7\":\"Often true\",\"88123-5\":\"Never true\"}}"
  local needs
  needs=$(jq -c .needs "$WORK/body")
  req 200 "$sender" POST /matches "{\"person_id\":\"$person\",\"needs\":$needs,\"radius_m\":10000}"
  [ "$(jq '.matches | length' "$WORK/body")" = 1 ] || fail "network $name: matching found $(jq '.matches | length' "$WORK/body") services, want 1"
  local service
  service=$(jq -r '.matches[0].service_id' "$WORK/body")
  req 201 "$sender" POST /referrals "{\"person_id\":\"$person\",\"receiver_organization_id\":\"$pantry\",\"service_id\":\"$service\",\"needs\":$needs,\"send\":true}" -H 'Idempotency-Key: e2e-1'
  ref=$(jq -r .id "$WORK/body")
  req 200 "$sender" POST /referrals "{\"person_id\":\"$person\",\"receiver_organization_id\":\"$pantry\",\"service_id\":\"$service\",\"needs\":$needs,\"send\":true}" -H 'Idempotency-Key: e2e-1'
  [ "$(jq -r .id "$WORK/body")" = "$ref" ] || fail "the idempotent retry made a second referral"
  req 403 "$sender" POST "/referrals/$ref/accept"
  req 200 "$receiver" POST "/referrals/$ref/acknowledge" '' -H 'If-Match: "1"'
  req 412 "$receiver" POST "/referrals/$ref/accept" '' -H 'If-Match: "1"'
  req 200 "$receiver" POST "/referrals/$ref/accept" '' -H 'If-Match: "2"'
  req 200 "$receiver" POST "/referrals/$ref/start"
  req 200 "$receiver" POST "/referrals/$ref/complete" '{"outcome":{"code":"got-help"}}'
  [ "$(jq -r .status "$WORK/body")" = completed ] || fail "network $name: the referral is not completed"
  req 200 "$delegate" GET "/referrals/$ref/history"
  [ "$(jq '.events | length' "$WORK/body")" = 5 ] || fail "network $name: history has $(jq '.events | length' "$WORK/body") events, want 5"
  req 200 "$sender" GET "/referrals/$ref/fhir"
  req 200 "$admin" GET "/events?limit=10"
  req 200 "$admin" GET "/reports/loop-closure?from=2000-01-01T00:00:00Z&to=2000-12-01T00:00:00Z"
  printf -v "REF_$name" %s "$ref"
  printf -v "TOK_${name}_admin" %s "$admin"
  printf -v "TOK_${name}_sender" %s "$sender"
}

# scenario LABEL ARGS...: one backend, both networks, then a clean stop.
scenario() {
  local label=$1; shift
  echo "serve-e2e: $label"
  start_serve "$@"
  req 200 "" GET /healthz
  req 200 "" GET /readyz
  req 200 "" GET /openapi.json
  [ "$(jq -r .openapi "$WORK/body")" = 3.1.0 ] || fail "/openapi.json is not OpenAPI 3.1"
  loop A
  loop B
  # Network A sees its referral; nobody in network B does, whatever their role.
  req 200 "$TOK_A_sender" GET "/referrals/$REF_A"
  req 404 "$TOK_B_admin" GET "/referrals/$REF_A"
  req 404 "$TOK_B_sender" GET "/referrals/$REF_A"
  req 404 "$TOK_A_admin" GET "/referrals/$REF_B"
  # Tokens the server refuses.
  req 401 "" GET /network
  req 401 "not-a-token" GET /network
  local other expired
  other=$("$WORK/refkit-load" token --key "$WORK/keys/signing-key.pem" --issuer "$ISSUER" --audience other \
    --network "$(uuid)" --organization "$(uuid)" --role staff)
  req 401 "$other" GET /network
  expired=$("$WORK/refkit-load" token --key "$WORK/keys/signing-key.pem" --issuer "$ISSUER" --audience "$AUDIENCE" \
    --network "$(uuid)" --organization "$(uuid)" --role staff --ttl -2m)
  req 401 "$expired" GET /network
  req 200 "" GET /metrics
  grep -q 'http_server_request_duration_seconds_count{.*http_route="POST /referrals/{id}/complete"' "$WORK/body" || fail "/metrics lacks the request counters"
  grep -q 'refkit_sweep_runs_total{' "$WORK/body" || fail "/metrics lacks the sweep counter"
  stop_serve
  echo "serve-e2e: $label: ok"
}

scenario sqlite --db "$WORK/refkit.db"

if [ -n "${REFKIT_TEST_POSTGRES_URL:-}" ]; then
  scenario postgres --postgres "$REFKIT_TEST_POSTGRES_URL" --postgres-schema "e2e_$(date +%s)_$$"
else
  echo "serve-e2e: postgres: skipped (REFKIT_TEST_POSTGRES_URL is not set)"
fi
echo "serve-e2e: passed"
