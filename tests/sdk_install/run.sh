#!/usr/bin/env bash
# The SDK as a third party sees it: install berth from a build tree into a
# temporary prefix, build examples/hello-plugin against that prefix alone
# (CMake package and pkg-config), then run the installed berthd with the
# example as its plugin_dir and check the stock ctr lists it as ok. Then
# build examples/external-snapshotter against the prefix, serve it, and drive
# it with ctr through the stock containerd as a [proxy_plugins] snapshotter.
#   run.sh <build dir> <source dir>
set -euo pipefail

build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/berth-sdk-XXXXXX")
berthd_pid=""
snapshotter_pid=""
containerd_pid=""

cleanup() {
  local pid
  for pid in "$berthd_pid" "$containerd_pid" "$snapshotter_pid"; do
    if [[ -n $pid ]]; then
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "sdk_install: FAIL: $*" >&2
  local log
  for log in "$work"/*.log; do
    [[ -f $log ]] || continue
    echo "--- $(basename "$log"):" >&2
    cat "$log" >&2
  done
  exit 1
}

step() { echo "sdk_install: $*"; }

install_sdk() {
  step "installing $build into $prefix"
  cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 ||
    { cat "$work/install.log" >&2; fail "cmake --install failed"; }
}

build_example_with_cmake() {
  step "building examples/hello-plugin with find_package(Berth)"
  cmake -S "$src/examples/hello-plugin" -B "$example" -G Ninja \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo ||
    fail "configuring the example failed"
  cmake --build "$example" || fail "building the example failed"
  [[ -f $example/example-hello.so ]] || fail "no example-hello.so in $example"
}

check_pkg_config() {
  local pc plugindir
  pc=$(find "$prefix" -name berth.pc -print -quit)
  [[ -n $pc ]] || fail "no berth.pc installed"
  export PKG_CONFIG_PATH
  PKG_CONFIG_PATH=$(dirname "$pc")
  plugindir=$(pkg-config --variable=plugindir berth) ||
    fail "pkg-config does not know berth"
  plugindir=$(realpath -m "$plugindir")
  [[ $plugindir == "$prefix"/*/berth/plugins ]] ||
    fail "plugindir is $plugindir, expected $prefix/<libdir>/berth/plugins"
  step "pkg-config plugindir = $plugindir"

  step "building the example with pkg-config flags"
  # shellcheck disable=SC2046
  g++ -shared -fPIC -fvisibility=hidden -o "$work/pkgconfig-hello.so" \
    "$src/examples/hello-plugin/example_hello.cc" \
    $(pkg-config --cflags --libs berth) -Wl,--no-undefined ||
    fail "building with pkg-config flags failed"
}

write_config() {
  cat >"$work/config.toml" <<TOML
version = 2
root = "$work/root"
state = "$work/state"
plugin_dir = "$example"

[grpc]
  address = "$socket"

[plugins."io.containerd.internal.v1.example-hello"]
  greeting = "ahoy from the sdk test"
TOML
}

start_installed_berthd() {
  step "starting $prefix/bin/berthd"
  "$prefix/bin/berthd" --config "$work/config.toml" >"$work/berthd.log" 2>&1 &
  berthd_pid=$!
  local deadline=$((SECONDS + 60))
  until ctr --address "$socket" version >/dev/null 2>&1; do
    kill -0 "$berthd_pid" 2>/dev/null || fail "berthd exited before serving"
    ((SECONDS < deadline)) || fail "berthd did not serve within 60s"
    sleep 0.1
  done
}

check_plugin_listed() {
  local listing detailed
  listing=$(ctr --address "$socket" plugins ls) || fail "ctr plugins ls failed"
  echo "$listing"
  grep -Eq '^io\.containerd\.internal\.v1[[:space:]]+example-hello[[:space:]]+[^[:space:]]+[[:space:]]+ok[[:space:]]*$' \
    <<<"$listing" || fail "example-hello is not listed as ok"
  detailed=$(ctr --address "$socket" plugins ls --detailed) ||
    fail "ctr plugins ls --detailed failed"
  grep -q "ahoy from the sdk test" <<<"$detailed" ||
    fail "example-hello does not export the configured greeting"
}

stop_berthd() {
  local code=0 watchdog
  kill -TERM "$berthd_pid"
  # Bounded wait: a watchdog kills berthd if SIGTERM does not end it.
  (sleep 30 && kill -KILL "$berthd_pid") </dev/null >/dev/null 2>&1 &
  watchdog=$!
  wait "$berthd_pid" || code=$?
  kill "$watchdog" 2>/dev/null || true
  wait "$watchdog" 2>/dev/null || true
  berthd_pid=""
  ((code == 0)) || fail "berthd exited with $code on SIGTERM"
}

build_snapshotter_example() {
  step "building examples/external-snapshotter with find_package(Berth)"
  cmake -S "$src/examples/external-snapshotter" -B "$ext" -G Ninja \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo ||
    fail "configuring the snapshotter example failed"
  cmake --build "$ext" || fail "building the snapshotter example failed"
  [[ -x $ext/example-snapshotter ]] || fail "no example-snapshotter in $ext"
  "$prefix/bin/berth-snapshotter" --help >/dev/null ||
    fail "the installed berth-snapshotter does not run"
}

# Polls (bounded) until `$@` succeeds; fails naming `what` when `pid` exits
# first or 60 s pass.
wait_until() {
  local what=$1 pid=$2 deadline=$((SECONDS + 60))
  shift 2
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || fail "$what exited before serving"
    ((SECONDS < deadline)) || fail "$what did not serve within 60s"
    sleep 0.1
  done
}

serve_snapshotter_through_containerd() {
  step "serving example-snapshotter to containerd as proxy plugin \"ext\""
  "$ext/example-snapshotter" "$work/ext-root" "$ext_socket" >"$work/snapshotter.log" 2>&1 &
  snapshotter_pid=$!
  wait_until example-snapshotter "$snapshotter_pid" test -S "$ext_socket"
  mkdir -p "$work/ctd"
  cat >"$work/ctd/config.toml" <<TOML
version = 2
root = "$work/ctd/root"
state = "$work/ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$ctd_socket"
[plugins."io.containerd.internal.v1.opt"]
  path = "$work/ctd/opt"
[proxy_plugins.ext]
  type = "snapshot"
  address = "$ext_socket"
# The peer never collects during the test: its startup run would otherwise
# take the test's unlabelled snapshots between two ctr calls.
[plugins."io.containerd.gc.v1.scheduler"]
  deletion_threshold = 0
  mutation_threshold = 1000000000
  schedule_delay = "0s"
  startup_delay = "1000h"
TOML
  containerd --config "$work/ctd/config.toml" >"$work/containerd.log" 2>&1 &
  containerd_pid=$!
  wait_until containerd "$containerd_pid" ctr --address "$ctd_socket" version
}

check_snapshotter_example() {
  local snap=(ctr --address "$ctd_socket" snapshots --snapshotter ext) out
  "${snap[@]}" prepare base || fail "ctr snapshots prepare failed"
  out=$("${snap[@]}" mounts /mnt/x base) || fail "ctr snapshots mounts failed"
  echo "$out"
  [[ $out == "mount -t bind $work/ext-root/snapshots/"*" /mnt/x -o rbind,rw" ]] ||
    fail "unexpected mounts: $out"
  echo "layer" >"$(awk '{print $4}' <<<"$out")/file" || fail "cannot write the snapshot"
  "${snap[@]}" commit layer base || fail "ctr snapshots commit failed"
  "${snap[@]}" view ro layer || fail "ctr snapshots view failed"
  out=$("${snap[@]}" mounts /mnt/x ro) || fail "ctr snapshots mounts (view) failed"
  [[ $(cat "$(awk '{print $4}' <<<"$out")/file") == layer ]] ||
    fail "the view is not a copy of its parent"
  out=$("${snap[@]}" ls) || fail "ctr snapshots ls failed"
  echo "$out"
  grep -Eq '^layer[[:space:]]+Committed' <<<"$out" || fail "layer is not listed as committed"
  grep -Eq '^ro[[:space:]]+layer[[:space:]]+View' <<<"$out" || fail "ro is not listed as a view"
  "${snap[@]}" rm ro layer || fail "ctr snapshots rm failed"
}

stop_snapshotter_example() {
  stop_pid containerd "$containerd_pid" || true
  containerd_pid=""
  stop_pid example-snapshotter "$snapshotter_pid" || fail "example-snapshotter did not exit 0"
  snapshotter_pid=""
  [[ ! -e $ext_socket ]] || fail "example-snapshotter left its socket behind"
}

# SIGTERM, then waits (a watchdog kills after 30 s); fails unless exit 0.
stop_pid() {
  local what=$1 pid=$2 code=0 watchdog
  kill -TERM "$pid"
  (sleep 30 && kill -KILL "$pid") </dev/null >/dev/null 2>&1 &
  watchdog=$!
  wait "$pid" || code=$?
  kill "$watchdog" 2>/dev/null || true
  wait "$watchdog" 2>/dev/null || true
  ((code == 0)) || { echo "sdk_install: $what exited with $code" >&2; return 1; }
}

prefix=$work/prefix
example=$work/example
socket=$work/berthd.sock
ext=$work/ext
ext_socket=$work/ext.sock
ctd_socket=$work/ctd/containerd.sock

install_sdk
build_example_with_cmake
check_pkg_config
write_config
start_installed_berthd
check_plugin_listed
stop_berthd
build_snapshotter_example
serve_snapshotter_through_containerd
check_snapshotter_example
stop_snapshotter_example
step "PASS"
