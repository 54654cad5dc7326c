#!/bin/bash
# Runs once, when the postgres container starts on an empty data directory
# (/docker-entrypoint-initdb.d): a role and a database per service, each role's password from
# the service's secret file (/run/secrets/<service>_db_password). Each service then owns its
# schema alone; no service can read another's tables.
set -euo pipefail

for file in /run/secrets/*_db_password; do
  service=$(basename "$file" _db_password)
  psql --quiet -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    --set=service="$service" --set=password="$(cat "$file")" <<'SQL'
CREATE ROLE :"service" LOGIN PASSWORD :'password';
CREATE DATABASE :"service" OWNER :"service";
REVOKE ALL ON DATABASE :"service" FROM PUBLIC;
SQL
  echo "database and role for $service: created"
done
