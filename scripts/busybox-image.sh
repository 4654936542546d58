#!/usr/bin/env bash
# Builds a one-layer busybox image tarball from Debian's busybox-static,
# offline, for `ctr images import` (berthd or containerd):
#
#   scripts/busybox-image.sh [--format oci|docker] [--name REF] OUT.tar
#
# --format oci (default): an OCI image layout (oci-layout, index.json,
#   blobs/sha256/...), its manifest annotated with the image name the way
#   containerd's exporter does (io.containerd.image.name and
#   org.opencontainers.image.ref.name), the layer tar+gzip.
# --format docker: a `docker save` archive (manifest.json, repositories,
#   <id>/layer.tar uncompressed, <config digest>.json).
# --name: default docker.io/library/busybox:latest.
#
# The rootfs holds /bin/busybox, one symlink per applet, /etc/passwd and
# /etc/group for root, and the usual empty mount points. Everything is
# owned by 0:0 with mtime 0, so the same busybox always gives the same
# digests.
set -euo pipefail

format=oci
name=docker.io/library/busybox:latest
while [ $# -gt 1 ]; do
  case "$1" in
    --format) format="$2"; shift 2 ;;
    --name) name="$2"; shift 2 ;;
    *) echo "busybox-image.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ $# -ne 1 ]; then
  echo "usage: busybox-image.sh [--format oci|docker] [--name REF] OUT.tar" >&2
  exit 2
fi
out="$(realpath -m "$1")"
case "$format" in oci|docker) ;; *) echo "busybox-image.sh: format is oci or docker" >&2; exit 2 ;; esac

busybox=/bin/busybox
linkage="$(LC_ALL=C ldd "$busybox" 2>&1 || true)"
if ! "$busybox" --list >/dev/null 2>&1 || [[ "$linkage" != *"not a dynamic"* ]]; then
  # Debian's busybox-static installs the static binary as /bin/busybox.
  echo "busybox-image.sh: needs a static /bin/busybox (apt-get install busybox-static)" >&2
  exit 1
fi

case "$(dpkg --print-architecture 2>/dev/null || uname -m)" in
  amd64|x86_64) arch=amd64 ;;
  arm64|aarch64) arch=arm64 ;;
  *) arch="$(dpkg --print-architecture)" ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root"/{bin,etc,dev,proc,sys,root,tmp,var}
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"

sha() { sha256sum "$1" | cut -d' ' -f1; }
tar_rootfs() {
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    --format=posix --pax-option=delete=atime,delete=ctime \
    -C "$root" -cf "$1" bin dev etc proc root sys tmp var
}

tar_rootfs "$work/layer.tar"
diff_id="$(sha "$work/layer.tar")"

config="$work/config.json"
printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"busybox-image.sh"}]}' \
  "$arch" "$diff_id" >"$config"
config_digest="$(sha "$config")"
config_size="$(stat -c %s "$config")"

if [ "$format" = docker ]; then
  pkg="$work/pkg"
  mkdir -p "$pkg/$diff_id"
  mv "$work/layer.tar" "$pkg/$diff_id/layer.tar"
  cp "$config" "$pkg/$config_digest.json"
  repo="${name%:*}"
  tag="${name##*:}"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' \
    "$config_digest" "$name" "$diff_id" >"$pkg/manifest.json"
  printf '{"%s":{"%s":"%s"}}' "$repo" "$tag" "$diff_id" >"$pkg/repositories"
else
  pkg="$work/pkg"
  blobs="$pkg/blobs/sha256"
  mkdir -p "$blobs"
  gzip -n -c "$work/layer.tar" >"$work/layer.tar.gz"
  layer_digest="$(sha "$work/layer.tar.gz")"
  layer_size="$(stat -c %s "$work/layer.tar.gz")"
  mv "$work/layer.tar.gz" "$blobs/$layer_digest"
  cp "$config" "$blobs/$config_digest"
  manifest="$work/manifest.json"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$manifest"
  manifest_digest="$(sha "$manifest")"
  manifest_size="$(stat -c %s "$manifest")"
  mv "$manifest" "$blobs/$manifest_digest"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$pkg/oci-layout"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"},"platform":{"architecture":"%s","os":"linux"}}]}' \
    "$manifest_digest" "$manifest_size" "$name" "${name##*:}" "$arch" >"$pkg/index.json"
fi

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$pkg" -cf "$out" .
echo "$out"
