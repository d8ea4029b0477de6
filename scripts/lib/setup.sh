# shellcheck shell=bash
# Shared setup for scripts/test, scripts/demo and scripts/bench: installs what is
# missing, starts a Docker daemon when none answers, and imports the test image.
# Idempotent, and quick when everything is already there. Needs root.

set -euo pipefail

BERTH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export BERTH_ROOT

say() { printf '==> %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "$0: run me as root (I install packages, start dockerd and write iptables rules)" >&2
    exit 1
  fi
}

# Debian packages the scripts and tests use, with one command that proves each is there.
install_packages() {
  local want=() pkg cmd
  while read -r pkg cmd; do
    command -v "$cmd" >/dev/null 2>&1 || want+=("$pkg")
  done <<'LIST'
docker.io dockerd
iptables iptables-restore
busybox-static busybox
curl curl
iproute2 ip
docker-registry docker-registry
conntrack conntrack
tmux tmux
zsh zsh
util-linux unshare
procps pgrep
python3 python3
nftables nft
openssh-server sshd
openssh-client ssh-keygen
socat socat
LIST
  if [ ${#want[@]} -gt 0 ]; then
    say "installing ${want[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
      export PATH="$HOME/.cargo/bin:$PATH"
    else
      say "installing the Rust toolchain (Debian's cargo)"
      apt-get install -y -qq cargo rustc >/dev/null
    fi
  fi
}

docker_up() { docker info >/dev/null 2>&1; }

start_docker() {
  if docker_up; then return; fi
  say "starting dockerd (log: /var/log/berth-dockerd.log)"
  # a daemon killed earlier may leave its pid file behind
  rm -f /var/run/docker.pid
  # BERTH_DOCKERD_ARGS: extra arguments a test needs (e.g. a tcp listener)
  # shellcheck disable=SC2086 # a list of arguments
  nohup dockerd ${BERTH_DOCKERD_ARGS:-} >/var/log/berth-dockerd.log 2>&1 &
  local i
  for i in $(seq 1 60); do
    docker_up && return
    sleep 0.5
  done
  echo "dockerd did not come up; last lines of its log:" >&2
  tail -20 /var/log/berth-dockerd.log >&2
  exit 1
}

# The tests' UDP echo (busybox's nc has no UDP), built static so it runs in the image.
UDP_ECHO=/usr/local/libexec/berth-test/udp-echo
build_udp_echo() {
  local src="$BERTH_ROOT/tests/fixtures/udp_echo.rs"
  if [ -x "$UDP_ECHO" ] && [ "$UDP_ECHO" -nt "$src" ]; then return; fi
  say "building the test UDP echo"
  mkdir -p "$(dirname "$UDP_ECHO")"
  rustc -O -C target-feature=+crt-static "$src" -o "$UDP_ECHO"
}

# busybox:latest, built from Debian's busybox-static: sh, httpd, nc, sleep, cat, ...
# plus /bin/udp-echo. The label's value is the recipe's version.
TEST_IMAGE_VERSION=2
import_test_image() {
  build_udp_echo
  if docker image inspect busybox:latest >/dev/null 2>&1 &&
    [ "$(docker image inspect -f '{{index .Config.Labels "io.berth.test-image"}}' busybox:latest 2>/dev/null)" = "$TEST_IMAGE_VERSION" ]; then
    return
  fi
  say "importing busybox:latest from busybox-static"
  local root
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/www" "$root/root"
  cp /bin/busybox "$root/bin/busybox"
  local applet
  for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  echo 'hello from berth' >"$root/www/index.html"
  cp "$UDP_ECHO" "$root/bin/udp-echo"
  tar -C "$root" -c . | docker import \
    --change 'EXPOSE 80/tcp' \
    --change 'ENV PATH=/bin' \
    --change 'CMD ["sh"]' \
    --change "LABEL io.berth.test-image=$TEST_IMAGE_VERSION" \
    - busybox:latest >/dev/null
  rm -rf "$root"
}

# A local registry on 127.0.0.1:5000 (Debian's docker-registry, with a config of its own:
# the packaged one listens on every address and wants htpasswd).
start_registry() {
  if curl -sf -m 2 http://127.0.0.1:5000/v2/ >/dev/null 2>&1; then return; fi
  local dir=/var/lib/berth-test-registry
  mkdir -p "$dir/storage"
  cat >"$dir/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
YAML
  say "starting a local registry on 127.0.0.1:5000"
  nohup docker-registry serve "$dir/config.yml" >/var/log/berth-registry.log 2>&1 &
  local i
  for i in $(seq 1 40); do
    curl -sf -m 2 http://127.0.0.1:5000/v2/ >/dev/null 2>&1 && return
    sleep 0.25
  done
  echo "the registry did not come up:" >&2
  tail -20 /var/log/berth-registry.log >&2
  exit 1
}

build_berth() {
  say "building berth"
  (cd "$BERTH_ROOT" && cargo build --release --quiet)
  export BERTH="$BERTH_ROOT/target/release/berth"
}

setup_all() {
  need_root
  install_packages
  start_docker
  import_test_image
  start_registry
}

# The pid of the berth watch running on this host, if any (its status file and a live
# process holding it).
watcher_pid() {
  local pid
  pid=$(sed -n 's/^{"pid":\([0-9]*\),.*/\1/p' /run/berth/watch.json 2>/dev/null || true)
  if [ -n "$pid" ] && { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q 'berth.* watch'; then
    echo "$pid"
  fi
}

# Stop the berth watch that runs on this host (SIGTERM: it exits 0, rules left in place).
stop_watcher() {
  local pid i
  pid=$(watcher_pid)
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do
    [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null || return 0
    sleep 0.1
  done
}

# The end-to-end tests start their own watchers and judge the rules berth leaves: a
# watcher they did not start (a user's, or scripts/demo's) would repair what they check.
no_foreign_watcher() {
  local pid
  pid=$(watcher_pid)
  if [ -n "$pid" ]; then
    say "a berth watch runs on this host (pid $pid): it would repair the rules the tests check."
    say "stop it first (kill -TERM $pid, or systemctl stop berth-watch), then run the tests again"
    exit 1
  fi
}
