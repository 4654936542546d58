#!/usr/bin/env bash
# The SDK as a third party sees it: install berth from a build tree into a
# temporary prefix, build examples/hello-plugin against that prefix alone
# (CMake package and pkg-config), then run the installed berthd with the
# example as its plugin_dir and check the stock ctr lists it as ok.
#   run.sh <build dir> <source dir>
set -euo pipefail

build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/berth-sdk-XXXXXX")
berthd_pid=""

cleanup() {
  if [[ -n $berthd_pid ]]; then
    kill -KILL "$berthd_pid" 2>/dev/null || true
    wait "$berthd_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "sdk_install: FAIL: $*" >&2
  if [[ -f $work/berthd.log ]]; then
    echo "--- berthd log:" >&2
    cat "$work/berthd.log" >&2
  fi
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

prefix=$work/prefix
example=$work/example
socket=$work/berthd.sock

install_sdk
build_example_with_cmake
check_pkg_config
write_config
start_installed_berthd
check_plugin_listed
stop_berthd
step "PASS"
