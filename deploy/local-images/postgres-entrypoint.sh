#!/bin/bash
# The part of the official postgres image's entrypoint compose and the Kubernetes dev overlay rely
# on: on an empty data directory, initdb with POSTGRES_USER and the password from
# POSTGRES_PASSWORD_FILE (none needed with POSTGRES_HOST_AUTH_METHOD=trust), then the scripts in
# /docker-entrypoint-initdb.d against a server listening on its socket only; then the server
# itself, with the arguments after `postgres`.
set -euo pipefail

[ "${1:-}" = postgres ] && shift
user=${POSTGRES_USER:-postgres}
# the socket's directory: Debian's, unless this user cannot write there (Debian made it for its
# postgres user; the Kubernetes dev overlay runs the store as UID 10001); then one in /tmp.
# Clients in this container find it through PGHOST.
sockets=/var/run/postgresql
[ -w "$sockets" ] || sockets=$(mktemp -d)
export PGHOST=$sockets
method=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    password=$(cat "$POSTGRES_PASSWORD_FILE")
  elif [ "$method" = trust ]; then
    password=${POSTGRES_PASSWORD:-}
  else
    password=${POSTGRES_PASSWORD:?POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE is required}
  fi
  init() { initdb --username="$user" --auth-local=trust --auth-host="$method" --encoding=UTF8 -D "$PGDATA" "$@" >/dev/null; }
  if [ -n "$password" ]; then init --pwfile=<(printf '%s\n' "$password"); else init; fi
  echo "host all all all $method" >> "$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=$sockets" -w start >/dev/null
  for script in /docker-entrypoint-initdb.d/*; do
    case $script in
      *.sh) if [ -x "$script" ]; then "$script"; else . "$script"; fi ;;
      *.sql) psql -v ON_ERROR_STOP=1 --username "$user" --dbname postgres -f "$script" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "PostgreSQL init process complete; ready for start up."
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories="$sockets" "$@"
