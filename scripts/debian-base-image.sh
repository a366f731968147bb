#!/bin/sh
# Builds the `debian:12` base image locally from the Debian mirror apt uses, for machines
# that reach a Debian mirror but no container registry: debootstrap (minbase) and import.
#   scripts/debian-base-image.sh ENGINE   (run as root: debootstrap needs it)
set -e
engine="${1:?usage: debian-base-image.sh docker|podman}"
[ "$(id -u)" = 0 ] || { echo "debian-base-image: debootstrap needs root" >&2; exit 1; }
command -v debootstrap >/dev/null || {
  echo "debian-base-image: debootstrap missing: apt-get install debootstrap" >&2; exit 1; }

# The mirror apt already uses: the first URIs/deb line naming a .../debian archive.
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
  sed -n -e 's/^URIs: *\(http[^ ]*\/debian\)\/* *$/\1/p' -e 's/^deb  *\(\[[^]]*\]  *\)\{0,1\}\(http[^ ]*\/debian\)\/*  *.*/\2/p' |
  head -1)
mirror="${mirror:-http://deb.debian.org/debian}"

root=$(mktemp -d /var/tmp/debian-base.XXXXXX)
trap 'rm -rf "$root"' EXIT INT TERM
echo "debian-base-image: debootstrap bookworm from $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" > "$root.log" 2>&1 || {
  tail -20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
# The security and updates suites too, as in the official image.
cat > "$root/etc/apt/sources.list" <<LIST
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
LIST
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | "$engine" import --change 'CMD ["bash"]' - debian:12
