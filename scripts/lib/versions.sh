# shellcheck shell=bash
# Other versions of the parts berth drives, fetched from Debian's other suites with a
# private apt configuration and never installed over the system's (DESIGN.md, "Other
# versions"), and a remote engine: a network namespace with a dockerd of its own
# (DESIGN.md, "A remote engine").
#
# Sourced after scripts/lib/setup.sh (works without it). Needs root. Safe under
# `set -euo pipefail`; it sets no shell options itself. Every wait has a deadline.
#
#   fetch_alt_versions         sid's docker.io 28.5.2 (+ docker-cli, tini-static) and
#                              trixie's iptables 1.8.11, extracted into
#                              $CACHE/alt-versions/root; quick when already there
#   iptables_1811_path         echoes a folder of iptables 1.8.11 wrappers (put it first on PATH)
#   docker_28_path             echoes a folder with dockerd, docker-proxy, docker-init and
#                              docker 28.5.2 (put it first on PATH before starting dockerd)
#   start_dockerd_version V    V = 20.10 (the system's) or 28.5.2: stops the host's dockerd
#                              and starts V (log /var/log/berth-dockerd-V.log)
#   stop_dockerd               stops the host's dockerd (SIGTERM, 30 s deadline)
#   start_remote_engine [V]    netns berth-rmt, this host 198.18.9.1, remote 198.18.9.2,
#                              dockerd V (default 28.5.2) on tcp://198.18.9.2:2375;
#                              exports REMOTE_ENGINE_HOST; reuses a running one
#   stop_remote_engine         stops it and leaves nothing behind (but its data-root)
#
# What runs where: the fetched binaries need glibc 2.34 (Debian 12 has 2.36). dockerd 28
# uses Debian 12's containerd and runc (they come with Debian 12's docker.io, which
# setup.sh installs); nothing else is installed. Two plugins of trixie's iptables
# (libxt_string, libxt_connlabel) need glibc 2.38 and cannot load here; berth uses neither.

if ! declare -F say >/dev/null; then
  say() { printf '==> %s\n' "$*" >&2; }
fi

: "${CACHE:=/var/cache/berth-test}"
export CACHE

ALT_DOCKER_VERSION=28.5.2
ALT_IPTABLES_VERSION=1.8.11
# bump when the set of packages or the layout below changes: the cache is then redone
_ALT_RECIPE=1
# suite package upstream-version-it-must-have ("-": any)
# iptables 1.8.11 pins libxtables12, libip4tc2 and libip6tc2 to its own version and is
# built against libnftnl >= 1.2.6 (Debian 12 has 1.2.4); Debian 12's libmnl0 1.0.4,
# libnfnetlink0 1.0.2 and libnetfilter-conntrack3 1.0.9 meet its needs (they are
# fetched from trixie too only when the system lacks them).
_ALT_PACKAGES="sid docker.io $ALT_DOCKER_VERSION
sid docker-cli $ALT_DOCKER_VERSION
sid tini-static -
trixie iptables $ALT_IPTABLES_VERSION
trixie libxtables12 $ALT_IPTABLES_VERSION
trixie libip4tc2 $ALT_IPTABLES_VERSION
trixie libip6tc2 $ALT_IPTABLES_VERSION
trixie libnftnl11 -"
# package soname: fetched from trixie only when the system has no such library
_ALT_IF_MISSING="libmnl0 libmnl.so.0
libnfnetlink0 libnfnetlink.so.0
libnetfilter-conntrack3 libnetfilter_conntrack.so.3"
_ALT_BINARIES="usr/sbin/dockerd usr/sbin/docker-proxy usr/bin/docker usr/bin/tini-static
usr/sbin/xtables-nft-multi usr/sbin/xtables-legacy-multi"

# ---------------------------------------------------------------------------------------
# small helpers

_alt_top() { printf '%s\n' "$CACHE/alt-versions"; }

# _vers_matches GOT WANT: GOT is WANT or WANT followed by . + - ~ (28.5.2+dfsg4-5, 1.8.11-2)
_vers_matches() {
  case $1 in
  "$2" | "$2".* | "$2"+* | "$2"-* | "$2"~*) return 0 ;;
  esac
  return 1
}

# _vers_wait SECONDS COMMAND...: run COMMAND every 0.25 s until it succeeds; fail at the
# deadline. COMMAND must itself be bounded (use timeout for anything that can hang).
_vers_wait() {
  local end=$((SECONDS + $1))
  shift
  while :; do
    if "$@"; then return 0; fi
    if [ "$SECONDS" -ge "$end" ]; then return 1; fi
    sleep 0.25
  done
}

# _vers_alive PID: the process exists and is not a zombie
_vers_alive() {
  local st
  [ -r "/proc/$1/stat" ] || return 1
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "${st%% *}" != Z ]
}

# _vers_none_alive PID...: none of them runs any more
_vers_none_alive() {
  local p
  for p in "$@"; do
    if _vers_alive "$p"; then return 1; fi
  done
  return 0
}

# _vers_put FILE MODE CONTENT: write FILE only when its content differs (atomically)
_vers_put() {
  local f=$1 mode=$2 content=$3
  if [ -f "$f" ] && [ "$(cat "$f")" = "$content" ]; then
    chmod "$mode" "$f"
    return 0
  fi
  printf '%s\n' "$content" >"$f.tmp.$$"
  chmod "$mode" "$f.tmp.$$"
  mv -f "$f.tmp.$$" "$f"
}

# _vers_link TARGET LINK: a symlink, replaced only when it points elsewhere
_vers_link() {
  if [ -L "$2" ] && [ "$(readlink "$2")" = "$1" ]; then return 0; fi
  ln -sfn "$1" "$2"
}

# _vers_sq STRING: STRING single-quoted for sh
_vers_sq() {
  local q="'\\''"
  printf "'%s'" "${1//\'/$q}"
}

# _vers_path_without DIR: $PATH with every DIR entry taken out
_vers_path_without() {
  local out='' p parts
  IFS=: read -ra parts <<<"$PATH"
  for p in "${parts[@]}"; do
    if [ "$p" = "$1" ] || [ -z "$p" ]; then continue; fi
    out=${out:+$out:}$p
  done
  printf '%s\n' "$out"
}

# the library folder of the extracted packages (usr/lib/<triplet>), empty when none
_alt_libdir() {
  local d
  for d in "$(_alt_top)"/root/usr/lib/*/xtables; do
    if [ -d "$d" ]; then
      printf '%s\n' "${d%/xtables}"
      return 0
    fi
  done
  return 1
}

# the system's own Debian mirror
_alt_mirror() {
  local uri=''
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
    uri=$(awk '$1=="deb" && $0 !~ /security/ { for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
  fi
  printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

# the private apt configuration's options, in the array _ALT_APT
_alt_apt_opts() {
  local top
  top=$(_alt_top)
  _ALT_APT=(
    -o "Dir::Etc::SourceList=$top/apt/sources.list"
    -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$top/apt/lists"
    -o "Dir::Cache=$top/apt/cache"
    # only the Packages indices: no translations, no AppStream metadata
    -o Acquire::Languages=none
    -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
    -o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false
  )
}

# the stamp's version of PACKAGE
_alt_stamped() {
  local stamp
  stamp=$(_alt_top)/stamp
  [ -f "$stamp" ] || return 1
  awk -v p="$1" '$1==p {print $2}' "$stamp"
}

# the cache holds what this recipe fetches, with the expected versions
_alt_ready() {
  local top stamp f v
  top=$(_alt_top)
  stamp=$top/stamp
  [ -f "$stamp" ] || return 1
  grep -qx "recipe $_ALT_RECIPE" "$stamp" || return 1
  v=$(_alt_stamped docker.io) || return 1
  _vers_matches "$v" "$ALT_DOCKER_VERSION" || return 1
  v=$(_alt_stamped iptables) || return 1
  _vers_matches "$v" "$ALT_IPTABLES_VERSION" || return 1
  for f in $_ALT_BINARIES; do
    [ -x "$top/root/$f" ] || return 1
  done
  _alt_libdir >/dev/null
}

# ---------------------------------------------------------------------------------------
# fetch_alt_versions

fetch_alt_versions() {
  local top
  top=$(_alt_top)
  if _alt_ready; then
    say "other versions already in $top/root: docker.io $(_alt_stamped docker.io), iptables $(_alt_stamped iptables)"
    return 0
  fi
  mkdir -p "$top"
  # one fetch at a time (two test scripts may start together)
  (
    if ! flock -w 900 9; then
      echo "fetch_alt_versions: $top/lock is held for 15 min; giving up" >&2
      exit 1
    fi
    if _alt_ready; then
      say "other versions fetched meanwhile by another run"
      exit 0
    fi
    _alt_fetch "$top"
  ) 9>"$top/lock"
}

_alt_fetch() {
  local top=$1 uri log t0=$SECONDS suite pkg want ver madison cached
  local -a specs=() stamp=()
  log=$top/apt.log
  uri=$(_alt_mirror)
  mkdir -p "$top/apt/lists/partial" "$top/apt/cache/archives/partial"
  printf 'deb %s trixie main\ndeb %s sid main\n' "$uri" "$uri" >"$top/apt/sources.list"
  _alt_apt_opts

  say "apt-get update for trixie and sid from $uri (private lists in $top/apt; log $log)"
  : >"$log"
  if ! timeout 900 apt-get "${_ALT_APT[@]}" -q update >>"$log" 2>&1; then
    echo "fetch_alt_versions: apt-get update failed; last lines of $log:" >&2
    tail -15 "$log" >&2
    return 1
  fi

  # which packages: the fixed list, and the libraries the system lacks
  local list=$_ALT_PACKAGES soname
  cached=$(ldconfig -p 2>/dev/null || true)
  while read -r pkg soname; do
    [ -n "$pkg" ] || continue
    if ! grep -q "^[[:space:]]*$soname " <<<"$cached"; then
      list+=$'\n'"trixie $pkg -"
    fi
  done <<<"$_ALT_IF_MISSING"

  # the exact version each suite has (one apt-cache run: each parses all the lists)
  local -a names
  mapfile -t names < <(awk 'NF {print $2}' <<<"$list")
  madison=$(apt-cache "${_ALT_APT[@]}" madison "${names[@]}" 2>>"$log" || true)
  while read -r suite pkg want; do
    [ -n "$pkg" ] || continue
    ver=$(awk -F'|' -v p="$pkg" -v s="$suite" '
      { gsub(/ /, "", $1); gsub(/ /, "", $2) }
      $1 == p && $3 ~ (" " s "/") && !v { v = $2 }
      END { print v }' <<<"$madison")
    if [ -z "$ver" ]; then
      echo "fetch_alt_versions: $suite has no package $pkg" >&2
      return 1
    fi
    if [ "$want" != - ] && ! _vers_matches "$ver" "$want"; then
      echo "fetch_alt_versions: $suite's $pkg is $ver, not $want (the suite moved on: update ALT_*_VERSION in $(basename "${BASH_SOURCE[0]}"))" >&2
      return 1
    fi
    specs+=("$pkg=$ver")
    stamp+=("$pkg $ver $suite")
  done <<<"$list"

  say "downloading ${specs[*]}"
  rm -rf "$top/debs.new"
  mkdir -p "$top/debs.new"
  # let apt's unprivileged downloader write there (else it warns and downloads as root)
  if id _apt >/dev/null 2>&1; then chown _apt "$top/debs.new"; fi
  if ! (cd "$top/debs.new" && timeout 900 apt-get "${_ALT_APT[@]}" -q download "${specs[@]}") >>"$log" 2>&1; then
    echo "fetch_alt_versions: apt-get download failed; last lines of $log:" >&2
    tail -15 "$log" >&2
    return 1
  fi
  local bytes
  bytes=$(du -cb "$top/debs.new"/*.deb | awk 'END {print $1}')

  say "extracting $(find "$top/debs.new" -name '*.deb' | wc -l) packages ($((bytes / 1048576)) MiB) into $top/root"
  rm -rf "$top/root.new"
  mkdir -p "$top/root.new"
  local deb
  for deb in "$top/debs.new"/*.deb; do
    if ! dpkg-deb -x "$deb" "$top/root.new"; then
      echo "fetch_alt_versions: cannot extract $deb" >&2
      return 1
    fi
  done

  # the checks: every binary there, its libraries found, the versions expected
  local f missing='' lib='' d out
  for f in $_ALT_BINARIES; do
    [ -x "$top/root.new/$f" ] || missing+=" $f"
  done
  for d in "$top/root.new"/usr/lib/*/xtables; do
    if [ -d "$d" ]; then
      lib=${d%/xtables}
      break
    fi
  done
  if [ -n "$missing" ] || [ -z "$lib" ]; then
    echo "fetch_alt_versions: the packages lack$missing${lib:- usr/lib/*/xtables}" >&2
    return 1
  fi
  for f in usr/sbin/dockerd usr/sbin/docker-proxy usr/bin/docker usr/sbin/xtables-nft-multi usr/sbin/xtables-legacy-multi; do
    out=$(LD_LIBRARY_PATH=$lib ldd "$top/root.new/$f" 2>&1 || true)
    if grep -q 'not found' <<<"$out"; then
      echo "fetch_alt_versions: $f cannot run here:" >&2
      grep 'not found' <<<"$out" >&2
      return 1
    fi
  done
  out=$("$top/root.new/usr/sbin/dockerd" --version 2>&1 || true)
  case $out in *" $ALT_DOCKER_VERSION"[+,]*) ;; *)
    echo "fetch_alt_versions: dockerd --version says: $out" >&2
    return 1
    ;;
  esac
  out=$(LD_LIBRARY_PATH=$lib XTABLES_LIBDIR=$lib/xtables "$top/root.new/usr/sbin/xtables-nft-multi" iptables -V 2>&1 || true)
  if [ "$out" != "iptables v$ALT_IPTABLES_VERSION (nf_tables)" ]; then
    echo "fetch_alt_versions: the fetched iptables -V says: $out" >&2
    return 1
  fi

  # swap in, stamp last
  rm -f "$top/stamp"
  rm -rf "$top/root.old" "$top/debs.old"
  if [ -d "$top/root" ]; then mv "$top/root" "$top/root.old"; fi
  if [ -d "$top/debs" ]; then mv "$top/debs" "$top/debs.old"; fi
  mv "$top/root.new" "$top/root"
  mv "$top/debs.new" "$top/debs"
  rm -rf "$top/root.old" "$top/debs.old"
  {
    echo "recipe $_ALT_RECIPE"
    printf '%s\n' "${stamp[@]}"
  } >"$top/stamp"
  say "other versions ready in $((SECONDS - t0)) s: docker.io $(_alt_stamped docker.io), iptables $(_alt_stamped iptables)"
}

# ---------------------------------------------------------------------------------------
# iptables 1.8.11

# the system's own iptables variant: nft or legacy
_vers_system_iptables_variant() {
  local v=''
  if [ -x /usr/sbin/iptables ]; then v=$(/usr/sbin/iptables -V 2>/dev/null || true); fi
  case $v in *legacy*) echo legacy ;; *) echo nft ;; esac
}

# _vers_wrapper FILE ROOT LIBDIR VARIANT APPLET: a wrapper running APPLET of the fetched
# xtables-VARIANT-multi (it picks the applet from its first argument when called by its
# own name)
_vers_wrapper() {
  _vers_put "$1" 755 "#!/bin/sh
# iptables $ALT_IPTABLES_VERSION (Debian trixie) from $2, made by scripts/lib/versions.sh
LD_LIBRARY_PATH=$(_vers_sq "$3")
XTABLES_LIBDIR=$(_vers_sq "$3/xtables")
export LD_LIBRARY_PATH XTABLES_LIBDIR
exec $(_vers_sq "$2/usr/sbin/xtables-$4-multi") $5 \"\$@\""
}

iptables_1811_path() {
  if ! _alt_ready; then fetch_alt_versions || return 1; fi
  local top root lib dir variant base suffix name
  top=$(_alt_top)
  root=$top/root
  lib=$(_alt_libdir)
  dir=$top/bin-iptables-$ALT_IPTABLES_VERSION
  variant=$(_vers_system_iptables_variant)
  mkdir -p "$dir"
  for base in iptables ip6tables; do
    for suffix in '' -save -restore; do
      # the plain names run the variant the host uses (DESIGN.md: never mix them)
      _vers_wrapper "$dir/$base$suffix" "$root" "$lib" "$variant" "$base$suffix"
      for name in nft legacy; do
        _vers_wrapper "$dir/$base-$name$suffix" "$root" "$lib" "$name" "$base-$name$suffix"
      done
    done
  done
  printf '%s\n' "$dir"
}

# ---------------------------------------------------------------------------------------
# Docker 28.5.2

docker_28_path() {
  if ! _alt_ready; then fetch_alt_versions || return 1; fi
  local top root dir
  top=$(_alt_top)
  root=$top/root
  dir=$top/bin-docker-$ALT_DOCKER_VERSION
  mkdir -p "$dir"
  # plain symlinks do: the binaries need only glibc 2.34 and Debian 12's libraries,
  # containerd and runc. docker-init is tini-static (the package's relative link).
  _vers_link "$root/usr/sbin/dockerd" "$dir/dockerd"
  _vers_link "$root/usr/sbin/docker-proxy" "$dir/docker-proxy"
  _vers_link "$root/usr/bin/tini-static" "$dir/docker-init"
  _vers_link "$root/usr/bin/docker" "$dir/docker"
  printf '%s\n' "$dir"
}

# _vers_dockerd_for VERSION: sets _VERS_DOCKERD (the binary) and _VERS_PATH (the PATH to
# start it with: the 28.5.2 folder first for 28.5.2, taken out for 20.10)
_vers_dockerd_for() {
  local alt out
  alt=$(_alt_top)/bin-docker-$ALT_DOCKER_VERSION
  case $1 in
  20.10)
    _VERS_DOCKERD=/usr/sbin/dockerd
    _VERS_PATH=$(_vers_path_without "$alt")
    ;;
  "$ALT_DOCKER_VERSION")
    alt=$(docker_28_path) || return 1
    _VERS_DOCKERD=$alt/dockerd
    _VERS_PATH=$alt:$(_vers_path_without "$alt")
    ;;
  *)
    echo "unknown dockerd version '$1' (20.10 or $ALT_DOCKER_VERSION)" >&2
    return 1
    ;;
  esac
  if [ ! -x "$_VERS_DOCKERD" ]; then
    echo "no $_VERS_DOCKERD (Debian 12's docker.io installs it)" >&2
    return 1
  fi
  out=$("$_VERS_DOCKERD" --version 2>&1 || true)
  case $out in *" $1"[.+,-]*) ;; *)
    echo "$_VERS_DOCKERD is not dockerd $1: $out" >&2
    return 1
    ;;
  esac
  local tool
  for tool in containerd runc; do
    if [ -z "$(PATH=$_VERS_PATH type -P "$tool" || true)" ]; then
      echo "dockerd needs $tool (Debian 12's docker.io brings containerd and runc)" >&2
      return 1
    fi
  done
}

# _vers_server_is VERSION HOST: the engine at HOST answers (docker info) and is VERSION
_vers_server_is() {
  local got
  timeout 5 docker -H "$2" info >/dev/null 2>&1 || return 1
  got=$(timeout 5 docker -H "$2" version --format '{{.Server.Version}}' 2>/dev/null) || return 1
  _vers_matches "$got" "$1"
}

_VERS_HOST_SOCK=unix:///var/run/docker.sock

# the pids of the host's dockerd: the one of /var/run/docker.pid, and any other dockerd
# in this network namespace that runs with the default exec-root (engines of their own,
# like the remote engine, run with --exec-root)
_vers_host_dockerd_pids() {
  local self pid p cmd
  local -a pids=()
  self=$(readlink /proc/self/ns/net)
  if [ -r /var/run/docker.pid ]; then
    pid=$(cat /var/run/docker.pid 2>/dev/null || true)
    if [[ $pid =~ ^[0-9]+$ ]] && _vers_alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
      pids+=("$pid")
    fi
  fi
  for p in $(pgrep -x dockerd || true); do
    if [ "${pids[*]:-}" = "$p" ]; then continue; fi
    [ "$(readlink "/proc/$p/ns/net" 2>/dev/null)" = "$self" ] || continue
    cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null || true)
    case $cmd in *--exec-root*) continue ;; esac
    pids+=("$p")
  done
  printf '%s\n' "${pids[*]:-}"
}

stop_dockerd() {
  local pids t0=$SECONDS
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1 &&
    systemctl is-active --quiet docker.service docker.socket 2>/dev/null; then
    say "stopping docker.service and docker.socket (systemd)"
    timeout 60 systemctl stop docker.socket docker.service || true
  fi
  pids=$(_vers_host_dockerd_pids)
  if [ -z "$pids" ]; then
    say "no dockerd runs on this host"
    return 0
  fi
  say "stopping dockerd (pid $pids)"
  # shellcheck disable=SC2086 # a list of pids
  kill -TERM $pids 2>/dev/null || true
  # shellcheck disable=SC2086
  if ! _vers_wait 30 _vers_none_alive $pids; then
    say "dockerd (pid $pids) did not exit within 30 s of SIGTERM; it still runs"
    return 1
  fi
  say "dockerd stopped in $((SECONDS - t0)) s"
}

# start_dockerd_version VERSION: the host's dockerd, VERSION 20.10 (the system's) or 28.5.2
start_dockerd_version() {
  local want=${1:?start_dockerd_version: 20.10 or $ALT_DOCKER_VERSION} log pid t0
  log=/var/log/berth-dockerd-$want.log
  _vers_dockerd_for "$want" || return 1
  if [ -n "$(_vers_host_dockerd_pids)" ] && _vers_server_is "$want" "$_VERS_HOST_SOCK"; then
    say "dockerd $want already runs"
    return 0
  fi
  stop_dockerd || return 1
  if [ "$want" = 20.10 ]; then _vers_tidy_docker28_chains; fi
  say "starting dockerd $want (log: $log)"
  t0=$SECONDS
  # a daemon killed earlier may leave its pid file behind
  rm -f /var/run/docker.pid
  PATH=$_VERS_PATH nohup "$_VERS_DOCKERD" </dev/null >"$log" 2>&1 &
  pid=$!
  if ! _vers_wait 90 _vers_up_or_dead "$want" "$_VERS_HOST_SOCK" "$pid"; then
    echo "dockerd $want did not answer within 90 s; last lines of $log:" >&2
    tail -20 "$log" >&2
    return 1
  fi
  if ! _vers_alive "$pid" && ! _vers_server_is "$want" "$_VERS_HOST_SOCK"; then
    echo "dockerd $want exited; last lines of $log:" >&2
    tail -20 "$log" >&2
    return 1
  fi
  say "dockerd $want is up in $((SECONDS - t0)) s"
}

# Docker 28 migrates 20.10's FORWARD rules to its own chains when it starts, but 20.10
# knows nothing of those: after 28 they stay, with FORWARD's jump to DOCKER-FORWARD
# after 20.10's rules (verified in a netns). Take them out before 20.10 starts (dockerd
# stopped), with the iptables dockerd would use.
_vers_tidy_docker28_chains() {
  local name ipt c n
  for name in iptables ip6tables; do
    ipt=$(PATH=$_VERS_PATH type -P "$name" || true)
    [ -n "$ipt" ] || continue
    "$ipt" -w 5 -t filter -n -L DOCKER-FORWARD >/dev/null 2>&1 || continue
    say "removing Docker 28's chains DOCKER-FORWARD, DOCKER-BRIDGE, DOCKER-CT ($name) before 20.10 starts"
    n=0
    while [ "$n" -lt 20 ] && "$ipt" -w 5 -t filter -D FORWARD -j DOCKER-FORWARD 2>/dev/null; do
      n=$((n + 1))
    done
    for c in DOCKER-FORWARD DOCKER-BRIDGE DOCKER-CT DOCKER-INTERNAL; do
      "$ipt" -w 5 -t filter -F "$c" 2>/dev/null || true
    done
    for c in DOCKER-FORWARD DOCKER-BRIDGE DOCKER-CT DOCKER-INTERNAL; do
      "$ipt" -w 5 -t filter -X "$c" 2>/dev/null || true
    done
  done
}

# _vers_up_or_dead VERSION HOST PID: done waiting (the engine answers as VERSION, or died)
_vers_up_or_dead() {
  if _vers_server_is "$1" "$2"; then return 0; fi
  ! _vers_alive "$3"
}

# ---------------------------------------------------------------------------------------
# A remote engine: a network namespace joined by veth, with a dockerd of its own.
# Settings (environment, read at each call): REMOTE_ENGINE_NS (berth-rmt),
# REMOTE_ENGINE_VETH (host side, berth-rmt0; the remote side is eth0),
# REMOTE_ENGINE_HOST_IP (198.18.9.1), REMOTE_ENGINE_IP (198.18.9.2),
# REMOTE_ENGINE_DIR (data-root, $CACHE/remote-engine; kept between runs, images stay).
# Its exec-root and pid file are under /run/<ns>; its log is /var/log/<ns>-dockerd.log.

_rmt_conf() {
  _R_NS=${REMOTE_ENGINE_NS:-berth-rmt}
  _R_VETH=${REMOTE_ENGINE_VETH:-berth-rmt0}
  _R_HIP=${REMOTE_ENGINE_HOST_IP:-198.18.9.1}
  _R_IP=${REMOTE_ENGINE_IP:-198.18.9.2}
  _R_DATA=${REMOTE_ENGINE_DIR:-$CACHE/remote-engine}
  _R_RUN=/run/$_R_NS
  _R_PIDFILE=$_R_RUN/dockerd.pid
  _R_EXEC=$_R_RUN/exec
  _R_LOG=/var/log/$_R_NS-dockerd.log
  _R_HOST=tcp://$_R_IP:2375
}

# the remote dockerd's pid, if it runs
_rmt_dockerd_pid() {
  local pid p cmd
  if [ -r "$_R_PIDFILE" ]; then
    pid=$(cat "$_R_PIDFILE" 2>/dev/null || true)
    if [[ $pid =~ ^[0-9]+$ ]] && _vers_alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
      printf '%s\n' "$pid"
      return 0
    fi
  fi
  # no pid file (yet, or any more): the dockerd with our exec-root
  for p in $(pgrep -x dockerd || true); do
    cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null || true)
    case $cmd in *"--exec-root $_R_EXEC "*)
      printf '%s\n' "$p"
      return 0
      ;;
    esac
  done
  return 1
}

# the processes that belong to the remote engine: those in its namespace (dockerd,
# containerd, shims, docker-proxy), its containerd, and the descendants of all of them
_rmt_pids() {
  local -a seeds=() todo=() all=()
  local p c
  if [ -e "/run/netns/$_R_NS" ]; then
    mapfile -t seeds < <(ip netns pids "$_R_NS" 2>/dev/null || true)
  fi
  if p=$(_rmt_dockerd_pid); then seeds+=("$p"); fi
  if [ -r "$_R_EXEC/containerd/containerd.pid" ]; then
    p=$(cat "$_R_EXEC/containerd/containerd.pid" 2>/dev/null || true)
    if [[ $p =~ ^[0-9]+$ ]] && _vers_alive "$p"; then seeds+=("$p"); fi
  fi
  todo=("${seeds[@]}")
  while [ ${#todo[@]} -gt 0 ]; do
    p=${todo[0]}
    todo=("${todo[@]:1}")
    case " ${all[*]:-} " in *" $p "*) continue ;; esac
    all+=("$p")
    for c in $(pgrep -P "$p" || true); do todo+=("$c"); done
  done
  printf '%s\n' "${all[*]:-}"
}

# the mount points under the remote engine's exec-root and data-root, deepest first
_rmt_mounts() {
  awk -v a="$_R_RUN" -v b="$_R_DATA" '
    $5 == a || $5 == b || index($5, a "/") == 1 || index($5, b "/") == 1 { print length($5), $5 }
  ' /proc/self/mountinfo | sort -rn | cut -d' ' -f2-
}

# anything of a remote engine left on this host
_rmt_leftover() {
  [ -e "/run/netns/$_R_NS" ] || ip link show "$_R_VETH" >/dev/null 2>&1 || [ -d "$_R_RUN" ] ||
    [ -n "$(_rmt_pids)" ] || [ -n "$(_rmt_mounts)" ]
}

_rmt_net_up() {
  ip netns add "$_R_NS" &&
    ip link add "$_R_VETH" type veth peer name eth0 netns "$_R_NS" &&
    ip addr add "$_R_HIP/24" dev "$_R_VETH" &&
    ip link set "$_R_VETH" up &&
    ip -n "$_R_NS" link set lo up &&
    ip -n "$_R_NS" addr add "$_R_IP/24" dev eth0 &&
    ip -n "$_R_NS" link set eth0 up &&
    ip -n "$_R_NS" route add default via "$_R_HIP"
}

start_remote_engine() {
  local want=${1:-$ALT_DOCKER_VERSION} t0=$SECONDS pid ids
  _rmt_conf
  _vers_dockerd_for "$want" || return 1
  if _rmt_dockerd_pid >/dev/null && _vers_server_is "$want" "$_R_HOST"; then
    say "remote engine already runs: dockerd $want on $_R_HOST (netns $_R_NS)"
    REMOTE_ENGINE_HOST=$_R_HOST
    export REMOTE_ENGINE_HOST
    return 0
  fi
  if _rmt_leftover; then
    say "tidying a leftover remote engine ($_R_NS)"
    stop_remote_engine || return 1
  fi

  say "remote engine: netns $_R_NS, veth $_R_VETH $_R_HIP/24 <-> eth0 $_R_IP/24"
  if ! _rmt_net_up; then
    echo "start_remote_engine: cannot set up netns $_R_NS and veth $_R_VETH" >&2
    stop_remote_engine || true
    return 1
  fi
  mkdir -p "$_R_DATA" "$_R_EXEC"
  say "starting dockerd $want in $_R_NS on $_R_HOST (log: $_R_LOG)"
  # nsenter, not `ip netns exec`: that remounts /sys and dockerd then fails with
  # "Devices cgroup isn't mounted". --tls=false: no TLS on purpose (a test network).
  PATH=$_VERS_PATH nohup nsenter --net="/run/netns/$_R_NS" "$_VERS_DOCKERD" \
    --data-root "$_R_DATA" --exec-root "$_R_EXEC" --pidfile "$_R_PIDFILE" \
    -H "$_R_HOST" --tls=false </dev/null >"$_R_LOG" 2>&1 &
  pid=$!
  if ! _vers_wait 90 _vers_up_or_dead "$want" "$_R_HOST" "$pid" || ! _vers_server_is "$want" "$_R_HOST"; then
    echo "the remote dockerd $want did not come up within 90 s; last lines of $_R_LOG:" >&2
    tail -20 "$_R_LOG" >&2
    stop_remote_engine || true
    return 1
  fi
  # containers of an earlier run stay in the data-root: a fresh engine starts without them
  ids=$(timeout 30 docker -H "$_R_HOST" ps -aq 2>/dev/null || true)
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086 # a list of ids
    timeout 60 docker -H "$_R_HOST" rm -f $ids >/dev/null 2>&1 || true
  fi
  REMOTE_ENGINE_HOST=$_R_HOST
  export REMOTE_ENGINE_HOST
  say "remote engine up in $((SECONDS - t0)) s: dockerd $want on $_R_HOST"
}

stop_remote_engine() {
  local pid pids m ids t0=$SECONDS
  _rmt_conf
  if pid=$(_rmt_dockerd_pid); then
    say "stopping the remote dockerd (pid $pid, netns $_R_NS)"
    # its containers first, at once (dockerd would give each 10 s to stop)
    ids=$(timeout 10 docker -H "$_R_HOST" ps -q 2>/dev/null || true)
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086 # a list of ids
      timeout 30 docker -H "$_R_HOST" rm -f $ids >/dev/null 2>&1 || true
    fi
    kill -TERM "$pid" 2>/dev/null || true
    if ! _vers_wait 30 _vers_none_alive "$pid"; then
      say "the remote dockerd did not exit within 30 s of SIGTERM; killing what is left"
    fi
  fi
  pids=$(_rmt_pids)
  if [ -n "$pids" ]; then
    say "killing what is left of the remote engine: pids $pids"
    # shellcheck disable=SC2086 # a list of pids
    kill -KILL $pids 2>/dev/null || true
    # shellcheck disable=SC2086
    if ! _vers_wait 10 _vers_none_alive $pids; then
      echo "stop_remote_engine: pids $pids survive SIGKILL" >&2
      return 1
    fi
  fi
  _rmt_rm_cgroups
  while read -r m; do
    [ -n "$m" ] || continue
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "stop_remote_engine: cannot unmount $m" >&2
  done < <(_rmt_mounts)
  if [ -e "/run/netns/$_R_NS" ]; then ip netns del "$_R_NS"; fi
  # the veth pair goes with the namespace; the host end may linger a moment
  if ! _vers_wait 5 _rmt_no_veth; then ip link del "$_R_VETH" 2>/dev/null || true; fi
  # (never into a mount that would not go)
  if [ -z "$(_rmt_mounts)" ]; then rm -rf "$_R_RUN"; fi
  unset REMOTE_ENGINE_HOST
  if _rmt_leftover; then
    echo "stop_remote_engine: something of $_R_NS is left" >&2
    return 1
  fi
  say "remote engine $_R_NS gone in $((SECONDS - t0)) s (its images stay in $_R_DATA)"
}

# the cgroups of its containers (cgroupfs driver: docker/<id>); runc leaves them behind
# when the engine was killed. rmdir removes only empty ones.
_rmt_rm_cgroups() {
  local c id d
  for c in "$_R_DATA"/containers/*/; do
    [ -d "$c" ] || continue
    id=$(basename "$c")
    for d in /sys/fs/cgroup/*/docker/"$id" /sys/fs/cgroup/docker/"$id"; do
      if [ -d "$d" ]; then rmdir "$d" 2>/dev/null || true; fi
    done
  done
}

_rmt_no_veth() { ! ip link show "$_R_VETH" >/dev/null 2>&1; }
