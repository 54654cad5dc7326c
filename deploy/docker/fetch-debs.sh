#!/usr/bin/env bash
# Fills deploy/docker/debs/ (git-ignored) with the Debian packages the agora-ops image installs:
# the database clients `agora backup` and `agora restore` run (pg_dump and pg_restore, mariadb-dump
# and mariadb), with every package they depend on, for the base image's Debian release. Like the
# wheels, they are fetched on the host, so the image build itself needs no network.
#   deploy/docker/fetch-debs.sh          reuses what an earlier run fetched for the same list
#   FORCE=1 deploy/docker/fetch-debs.sh  fetches again (a newer point release, a security fix)
# Environment: DEBIAN_SUITE (default bookworm: the release of python:3.11-slim-bookworm and of
# build-local-base.sh's image), DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR.
#
# apt runs with a configuration and state of its own (an empty package database, the suite's
# sources only): the host's release, sources and installed packages do not matter, and nothing
# of the host's apt changes. The dependency closure is resolved as for an empty system; the
# image's stage installs only the packages its base does not have already (install-debs.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=$here/debs
suite=${DEBIAN_SUITE:-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
# PostgreSQL's client is the release's own major version (bookworm: 15). pg_dump refuses a
# server of a newer major version, so the stacks in deploy/ run that same major version.
install=(postgresql-client-15 mariadb-client-core)
# mariadb-dump alone out of this one (install-debs.sh): the package is 60 MB of other tools and
# Perl scripts, and the binary links nothing but libc, OpenSSL and zlib
extract=(mariadb-client)
stamp="$suite: ${install[*]} + ${extract[*]}"

if [ "${FORCE:-0}" != 1 ] && [ -f "$out/.fetched" ] && [ "$(cat "$out/.fetched")" = "$stamp" ]; then
  echo "debs for $stamp: present"
  exit 0
fi
command -v apt-get >/dev/null || { echo "fetch-debs.sh: apt-get is needed (a Debian or Ubuntu host)" >&2; exit 1; }
[ -r "$keyring" ] || { echo "fetch-debs.sh: $keyring is missing (apt-get install debian-archive-keyring)" >&2; exit 1; }

state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/parts"
: > "$state/status"
cat > "$state/sources.list" <<EOF
deb [signed-by=$keyring] $mirror $suite main
deb [signed-by=$keyring] $mirror $suite-updates main
deb [signed-by=$keyring] $security $suite-security main
EOF
apt=(
  -o "Dir::Etc::SourceList=$state/sources.list" -o "Dir::Etc::SourceParts=$state/parts"
  -o "Dir::Etc::Preferences=$state/parts/none" -o "Dir::Etc::PreferencesParts=$state/parts"
  -o "Dir::State::Lists=$state/lists" -o "Dir::State::status=$state/status"
  -o "Dir::Cache=$state/cache" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root"
)
apt-get "${apt[@]}" -qq update
apt-get "${apt[@]}" -qq --download-only --no-install-recommends --yes install "${install[@]}" >/dev/null
rm -rf "$out/install" "$out/extract"
mkdir -p "$out/install" "$out/extract"
mv "$state"/cache/archives/*.deb "$out/install/"
(cd "$out/extract" && apt-get "${apt[@]}" -qq download "${extract[@]}")
echo "$stamp" > "$out/.fetched"
echo "debs for $stamp: $(ls "$out/install" | wc -l) packages to install, ${extract[*]} to extract ($(du -sh "$out" | cut -f1))"
