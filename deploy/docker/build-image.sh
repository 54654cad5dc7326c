#!/usr/bin/env bash
# Builds the Agora images with no network inside the build: the wheels and the Debian packages
# are fetched on the host first (deploy/docker/wheels/ and deploy/docker/debs/, git-ignored), then
# the images install from them only.
#   deploy/docker/build-image.sh [IMAGE [ML_IMAGE [LOADTEST_IMAGE]]]
# IMAGE (default localhost/agora:dev) is the common image; ML_IMAGE (default: IMAGE's name with
# -ml, same tag: localhost/agora-ml:dev) adds the `ml` extra for recommendations and analytics;
# OPS_IMAGE (environment; default IMAGE's name with -ops, same tag: localhost/agora-ops:dev) adds
# the PostgreSQL and MariaDB clients, for agora backup and agora restore (the backup CronJob).
# Both reuse every layer of the common image and add one. LOADTEST_IMAGE, when given
# (e.g. localhost/agora-loadtest:dev), is built too: the common image with Locust, for the
# cluster's traffic generator (the tests do not build it).
# Environment: BASE_IMAGE (default python:3.11-slim-bookworm; the tests use the local Debian one
# from build-local-base.sh), CONTAINER_ENGINE (podman, else docker), PYTHON (the host's Python
# 3.11 with pip, default .venv/bin/python); fetch-debs.sh's DEBIAN_* variables.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
image=${1:-localhost/agora:dev}
# name:tag -> name-ml:tag (a colon after the last slash is the tag's)
if [[ ${image##*/} == *:* ]]; then ml_default="${image%:*}-ml:${image##*:}"; else ml_default="$image-ml"; fi
ml_image=${2:-$ml_default}
if [[ ${image##*/} == *:* ]]; then ops_default="${image%:*}-ops:${image##*:}"; else ops_default="$image-ops"; fi
ops_image=${OPS_IMAGE:-$ops_default}
loadtest_image=${3:-}
engine=${CONTAINER_ENGINE:-$(command -v podman >/dev/null && echo podman || echo docker)}
python=${PYTHON:-$root/.venv/bin/python}
wheels=deploy/docker/wheels

cd "$root"
# every wheel the images need, for their Python (3.11, glibc): already-present wheels are
# reused, so a second build makes none
extras=s3,container,ml
[ -n "$loadtest_image" ] && extras=$extras,loadtest
wheel() { "$python" -m pip wheel --quiet --disable-pip-version-check -c constraints.txt -w "$wheels" "$@" \
  ".[$extras]" setuptools wheel; }
wheel --no-index --find-links "$wheels" 2>/dev/null || wheel
rm -f "$wheels"/agora-*.whl  # the image installs agora from src/, not from a wheel

# Several wheels ship their extension modules with debug information (uvloop's is 13.6 MB, 1.9
# without; asyncpg, SQLAlchemy, aiohttp, PyYAML, Pillow alike): 44 MB of the image that
# nothing reads at run time. binutils' strip removes it and `wheel pack` (the wheel project's
# own tool, run from its wheel above) rewrites the wheel's RECORD. Only the modules themselves:
# the libraries vendored under *.libs/ were rewritten by auditwheel's patchelf, and strip is
# known to damage such files. Each wheel once (.stripped lists them); without strip on the host
# the wheels stay as they are and the image is larger.
if command -v strip >/dev/null && command -v readelf >/dev/null; then
  shopt -s nullglob
  touch "$wheels/.stripped"
  tools=("$wheels"/wheel-*-py3-none-any.whl)
  tool=${tools[-1]}
  for whl in "$wheels"/*linux*.whl; do
    grep -qxF "$(basename "$whl")" "$wheels/.stripped" && continue
    work=$(mktemp -d)
    PYTHONPATH=$tool "$python" -m wheel unpack --dest "$work/unpacked" "$whl" >/dev/null
    changed=0
    while IFS= read -r -d '' module; do
      if readelf --section-headers "$module" | grep -q '\.debug_info'; then
        strip --strip-debug "$module" && changed=1
      fi
    done < <(find "$work/unpacked" -name '*.so' -type f -not -path '*.libs/*' -print0)
    if [ "$changed" = 1 ]; then
      mkdir "$work/packed"
      PYTHONPATH=$tool "$python" -m wheel pack --dest-dir "$work/packed" "$work"/unpacked/*/ >/dev/null
      packed=("$work"/packed/*.whl)
      rm "$whl"
      whl="$wheels/$(basename "${packed[0]}")"
      mv "${packed[0]}" "$whl"
    fi
    basename "$whl" >> "$wheels/.stripped"
    rm -rf "$work"
  done
else
  echo "build-image.sh: strip or readelf is missing (binutils): the wheels keep their debug information" >&2
fi

# the database clients of agora-ops, for the base's Debian release (bookworm)
"$here/fetch-debs.sh"
debs_digest=$( (cd "$here" && ls debs/install debs/extract && cat install-debs.sh) | sha256sum | cut -c1-16)

layers=()
[ "$(basename "$engine")" = podman ] && layers=(--layers)  # podman caches intermediate layers only when asked
build() {
  "$engine" build "${layers[@]}" \
    --file deploy/docker/Dockerfile \
    --build-arg "BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim-bookworm}" \
    --build-arg PIP_NO_INDEX=true \
    --build-arg "REVISION=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    --build-arg "CREATED=$created" \
    "$@" .
}
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
build --target agora --tag "$image"
build --target agora-ml --tag "$ml_image"
build --target agora-ops --build-arg "DEBS_DIGEST=$debs_digest" --tag "$ops_image"
if [ -n "$loadtest_image" ]; then
  build --target agora-loadtest --build-arg EXTRA=loadtest --tag "$loadtest_image"
fi
