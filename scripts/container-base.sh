#!/usr/bin/env bash
# Makes the local base image localhost/chatgenius-base:bookworm from Debian's
# packages (debootstrap, minbase variant, trimmed like debian:bookworm-slim)
# where no image registry is reachable. Does nothing if the image exists
# (CHATGENIUS_REBUILD_BASE=1 forces it). Needs root, podman, debootstrap.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

BASE_IMAGE=${BASE_IMAGE:-localhost/chatgenius-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if [ "${CHATGENIUS_REBUILD_BASE:-0}" != 1 ] && podman image exists "$BASE_IMAGE"; then
  log "base image $BASE_IMAGE exists"
  exit 0
fi
rootfs=$(mktemp -d /tmp/chatgenius-rootfs-XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
log "debootstrap bookworm (minbase) into $rootfs"
debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 ||
  { log "debootstrap failed, see $rootfs.log"; exit 1; }
rm -f "$rootfs.log"
cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian}/debian-security bookworm-security main
SOURCES
# What the slim images leave out: documentation, man pages, translations.
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'SLIM'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
SLIM
echo 'APT::Install-Recommends "false";' >"$rootfs/etc/apt/apt.conf.d/90no-recommends"
find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
tar -C "$rootfs" -c . | podman import --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
log "made $BASE_IMAGE ($(podman image inspect --format '{{.Size}}' "$BASE_IMAGE") bytes)"
