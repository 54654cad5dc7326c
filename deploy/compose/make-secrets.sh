#!/usr/bin/env bash
# Writes the secret files compose.yaml mounts (one random value per file) into
#   deploy/compose/secrets/   or the directory given as the first argument (AGORA_SECRETS_PATH).
# Existing files are kept, so running it again changes nothing; delete a file to renew it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
target=${1:-$here/secrets}
mkdir -p "$target"
chmod 0755 "$target"

names=(agora_secret_key agora_service_secret postgres_password s3_access_key s3_secret_key
  smtp_username smtp_password grafana_admin_password)
for service in identity catalog inventory cart currency shipping payments orders notifications \
  recommendations ads analytics media support web; do
  names+=("${service}_db_password")
done

for name in "${names[@]}"; do
  file=$target/$name
  [ -s "$file" ] && continue
  # 48 random bytes as URL-safe text: strong enough for keys, safe inside URLs and config files
  head -c 48 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' > "$file"
  # readable by the containers' own users (10001, postgres, minio), which are not the owner
  chmod 0644 "$file"
done
echo "secrets in $target"
