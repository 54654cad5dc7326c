#!/bin/bash
# tansu in the place of apache/kafka: listens on 9092 and advertises the PLAINTEXT address from
# KAFKA_ADVERTISED_LISTENERS, as the official image does; topics live in memory
set -euo pipefail
advertised=${KAFKA_ADVERTISED_LISTENERS:-PLAINTEXT://localhost:9092}
advertised=${advertised%%,*}
exec tansu broker --listener-url tcp://0.0.0.0:9092 \
  --advertised-listener-url "tcp://${advertised#*://}" --storage-engine memory://tansu/
