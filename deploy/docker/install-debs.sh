#!/bin/sh
# Run by deploy/docker/Dockerfile's agora-ops stage, as root, with fetch-debs.sh's directory
# mounted at $1: installs with dpkg the packages of $1/install that the base image does not have
# yet (a package it has already stays as it is), and takes mariadb-dump alone out of
# $1/extract's mariadb-client. No network and no apt: everything needed is in $1.
set -eu

debs=$1
new=""
for deb in "$debs"/install/*.deb; do
  package=$(dpkg-deb --field "$deb" Package)
  if [ "$(dpkg-query --show --showformat='${db:Status-Status}' "$package" 2>/dev/null)" != installed ]; then
    new="$new $deb"
  fi
done
# shellcheck disable=SC2086 # one word per file name (fetch-debs.sh's names have no spaces)
dpkg --install --force-confold $new
for deb in "$debs"/extract/mariadb-client_*.deb; do
  dpkg-deb --fsys-tarfile "$deb" | tar --extract --directory / ./usr/bin/mariadb-dump
done
# the clients must run, as the backup runs them
pg_dump --version
pg_restore --version
mariadb --version
mariadb-dump --version
# dpkg's logs and backups of its database: nothing reads them in a container
rm -rf /var/log/dpkg.log /var/log/alternatives.log /var/cache/debconf/*-old /var/lib/dpkg/*-old
