#!/bin/bash
# moto's S3 server in the place of minio/minio on port 9000; minio's own command (`server /data
# --console-address ...`) is accepted and ignored: moto keeps the objects in memory. moto does
# not stop on SIGTERM as PID 1 (the kernel ignores signals PID 1 has no handler for), so this
# shell stays PID 1 and passes the signal on.
/opt/tools/bin/moto_server -H 0.0.0.0 -p 9000 &
server=$!
trap 'kill -TERM "$server"' TERM INT
wait "$server"
