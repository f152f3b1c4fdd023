#!/bin/bash
# Runs the mock DNS and Pebble side by side and stops the container when either stops, so that a
# broken ACME server is visible as a stopped container rather than a half-working one.
set -euo pipefail

: "${ACME_LB_ADDRESS:?ACME_LB_ADDRESS must name the load balancer address every name resolves to}"

# Every A query answers the load balancer; no AAAA answers, so validation never tries ::1.
# Only the DNS part of challtestsrv runs: the load balancer itself answers the challenges.
pebble-challtestsrv -defaultIPv4 "$ACME_LB_ADDRESS" -defaultIPv6 "" \
  -dns01 127.0.0.1:8053 -http01 "" -https01 "" -tlsalpn01 "" -management 127.0.0.1:8055 &
dns_pid=$!

pebble -config /etc/pebble/pebble-config.json -dnsserver 127.0.0.1:8053 &
pebble_pid=$!

trap 'kill "$dns_pid" "$pebble_pid" 2>/dev/null' TERM INT
status=0
wait -n "$dns_pid" "$pebble_pid" || status=$?
kill "$dns_pid" "$pebble_pid" 2>/dev/null || true
exit "$status"
