#!/usr/bin/env bash
# Installs berth's build and test dependencies (Debian 12 packages) when any
# is missing, then configures and builds everything into ./build.
# Idempotent: a second run installs nothing and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  ninja-build pkg-config cmake g++ clang
  libboost-dev libboost-program-options-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libtoml11-dev libleveldb-dev libsnappy-dev libspdlog-dev libssl-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  containerd runc crun
  btrfs-progs busybox-static libbtrfsutil-dev libarchive-dev zlib1g-dev
  golang-go golang-github-containerd-ttrpc-dev
  docker-registry skopeo curl
)

missing_packages() {
  local package
  for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null |
      grep -q '^install ok installed$'; then
      echo "$package"
    fi
  done
}

install_missing() {
  local missing
  mapfile -t missing < <(missing_packages)
  ((${#missing[@]} == 0)) && return 0
  echo "setup: installing ${missing[*]}"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

install_missing
cmake -S . -B build -G Ninja
ninja -C build
