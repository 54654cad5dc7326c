#!/usr/bin/env bash
# Builds a local stand-in for the official `python:3.11-slim-bookworm` image from Debian packages
# (mmdebstrap → podman import), for machines that cannot pull from a public container registry.
# Kept across runs: does nothing when the image already exists (FORCE=1 rebuilds it).
#   deploy/docker/build-local-base.sh [IMAGE]      default IMAGE: localhost/agora-base:bookworm
set -euo pipefail

image=${1:-localhost/agora-base:bookworm}
if [ "${FORCE:-0}" != 1 ] && podman image exists "$image"; then
  echo "base image $image: present"
  exit 0
fi
command -v mmdebstrap >/dev/null || { echo "mmdebstrap is missing (apt-get install mmdebstrap)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# minbase + Python 3.11 (the official slim image's interpreter), without documentation, manual
# pages and translations: they are a fifth of the tree and nothing in a container reads them
# merged /usr set up by a hook, not by the usrmerge package (which pulls in Perl: 35 MB)
mmdebstrap --quiet --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --include=python3,python3-venv,ca-certificates,tzdata \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  bookworm "$work/rootfs.tar"
# an imported image has no configuration: give it the PATH and locale the official image has
podman import \
  --change 'ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV=LANG=C.UTF-8' \
  --change 'CMD=["python3"]' \
  "$work/rootfs.tar" "$image" >/dev/null
echo "base image $image: built"
