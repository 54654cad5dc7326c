#!/usr/bin/env bash
# Builds the Agora image with no network inside the build: the wheels are made on the host first
# (deploy/docker/wheels/, git-ignored), then the image installs from them only.
#   deploy/docker/build-image.sh [IMAGE]           default IMAGE: localhost/agora:dev
# Environment: BASE_IMAGE (default python:3.11-slim-bookworm; the tests use the local Debian one
# from build-local-base.sh), CONTAINER_ENGINE (podman, else docker), PYTHON (the host's Python
# 3.11 with pip, default .venv/bin/python).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
image=${1:-localhost/agora:dev}
engine=${CONTAINER_ENGINE:-$(command -v podman >/dev/null && echo podman || echo docker)}
python=${PYTHON:-$root/.venv/bin/python}

cd "$root"
# every wheel the image needs, for the image's Python (3.11, glibc): already-present wheels are
# reused, so a second build makes none
wheel() { "$python" -m pip wheel --quiet --disable-pip-version-check -c constraints.txt -w deploy/docker/wheels "$@" \
  ".[s3,container]" setuptools wheel; }
wheel --no-index --find-links deploy/docker/wheels 2>/dev/null || wheel
rm -f deploy/docker/wheels/agora-*.whl  # the image installs agora from src/, not from a wheel

layers=()
[ "$(basename "$engine")" = podman ] && layers=(--layers)  # podman caches intermediate layers only when asked
"$engine" build "${layers[@]}" \
  --file deploy/docker/Dockerfile \
  --tag "$image" \
  --build-arg "BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim-bookworm}" \
  --build-arg PIP_NO_INDEX=true \
  --build-arg "REVISION=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  .
