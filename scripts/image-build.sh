#!/bin/sh
# make image: builds the Dockerfile with the engine that works here (scripts/container-engine.sh).
#   scripts/image-build.sh IMAGE
set -e
image="${1:?usage: image-build.sh IMAGE}"
engine="" flags=""
setup=$(sh "$(dirname "$0")/container-engine.sh")
eval "$setup"

# podman keeps the Dockerfile's ccache mount (id=dinet-ccache) in a folder of its own: seeded
# once from this machine's ccache (same Debian compiler and headers), the first build is
# mostly cache hits too.
case "$engine" in
  podman*)
    # /var/tmp/buildah-cache as root (podman 4.3; seen in a build's mounts), -UID rootless.
    cache_parent="${TMPDIR:-/var/tmp}/buildah-cache"
    [ "$(id -u)" = 0 ] || cache_parent="$cache_parent-$(id -u)"
    mount_dir="$cache_parent/dinet-ccache"
    host_cache=$(ccache -k cache_dir 2>/dev/null || true)
    if [ ! -e "$mount_dir" ] && [ -n "$host_cache" ] && [ -d "$host_cache" ]; then
      echo "dinet: seeding the image's ccache from $host_cache"
      mkdir -p "$(dirname "$mount_dir")"
      cp -a "$host_cache" "$mount_dir.tmp" && mv "$mount_dir.tmp" "$mount_dir"
    fi ;;
esac

started=$(date +%s)
# shellcheck disable=SC2086  # engine and flags are words
$engine build $flags -t "$image" "$(dirname "$0")/.."
echo "dinet: image $image built in $(( $(date +%s) - started )) s"
$engine images "$image"
