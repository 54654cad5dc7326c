#!/usr/bin/env bash
# Prints the URL of the first event broker answering on loopback, for `make run-distributed`:
# NATS with JetStream on 4222, else Redis (Streams) on 6379, else a Kafka-protocol broker on 9092.
# A NATS server without JetStream is passed over (it keeps no events), with a line on stderr.
# Prints nothing when none answers; `agora up --distributed` then refuses with a line naming
# AGORA_BROKER_URL. The ports can be moved (AGORA_FIND_NATS_PORT, _REDIS_PORT, _KAFKA_PORT).
set -uo pipefail

nats_port=${AGORA_FIND_NATS_PORT:-4222}
redis_port=${AGORA_FIND_REDIS_PORT:-6379}
kafka_port=${AGORA_FIND_KAFKA_PORT:-9092}

up() { (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A NATS server greets every connection with one INFO line, which says whether JetStream is on.
nats_greeting() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$nats_port" || exit 1
    read -r -t 3 greeting <&3 && printf '%s\n' "$greeting"
  ) 2>/dev/null
}

greeting=$(nats_greeting)
if [[ $greeting == INFO* && $greeting == *'"jetstream":true'* ]]; then
  echo "nats://127.0.0.1:$nats_port"
  exit 0
elif [[ $greeting == INFO* ]]; then
  echo "find-broker: NATS on $nats_port runs without JetStream (start it with -js); trying Redis, then Kafka" >&2
fi
if up "$redis_port"; then
  echo "redis://127.0.0.1:$redis_port/0"
elif up "$kafka_port"; then
  echo "kafka://127.0.0.1:$kafka_port"
fi
