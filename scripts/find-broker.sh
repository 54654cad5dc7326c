#!/usr/bin/env bash
# Prints the URL of the first event broker answering on loopback, for `make run-distributed`:
# NATS (JetStream) on 4222, else Redis (Streams) on 6379. Prints nothing when none answers, and
# `agora up --distributed` then refuses with a line naming AGORA_BROKER_URL.
set -uo pipefail

up() { (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if up 4222; then
  echo "nats://127.0.0.1:4222"
elif up 6379; then
  echo "redis://127.0.0.1:6379/0"
fi
