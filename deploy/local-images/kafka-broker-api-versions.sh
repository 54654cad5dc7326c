#!/bin/bash
# apache/kafka's healthcheck tool, as far as compose uses it: is the broker port answering
exec 3<>/dev/tcp/127.0.0.1/9092
