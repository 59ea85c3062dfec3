#!/usr/bin/env bash
# Makes a machine without a Docker engine able to build and run Mizual's containers with podman:
# installs podman (Debian/Ubuntu, as root) when it is missing, gives it the settings these
# machines need when it has none, and makes a local Debian bookworm base image when no registry
# can provide one. Idempotent: each step is skipped when already done. Where a Docker engine
# runs, nothing here is needed (`docker build .` pulls debian:bookworm-slim as usual).
set -euo pipefail

BASE_TAG=docker.io/library/debian:bookworm-slim
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

say() { echo "prepare: $*"; }

# netavark (podman's networks) needs iptables, which minimal machines may lack.
if ! command -v podman >/dev/null 2>&1 || ! command -v iptables >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
    say "podman is missing; install podman (4.3 or newer) and podman-compose, or use Docker" >&2
    exit 1
  fi
  say "installing podman from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman buildah runc catatonit \
    netavark aardvark-dns iptables fuse-overlayfs slirp4netns uidmap debootstrap >/dev/null
fi

# Without a containers.conf of its own, podman picks crun, which refuses a cgroup v1 "hybrid"
# layout, and raises the open-files limit above a hard limit it may not be allowed to pass.
# Only written where there is none: an operator's own settings are never replaced.
CONF=/etc/containers/containers.conf
if [ "$(id -u)" = 0 ] && [ -z "${CONTAINERS_CONF:-}" ] && [ ! -e "$CONF" ]; then
  nofile=$(ulimit -Hn)
  [ "$nofile" = unlimited ] && nofile=1048576
  [ "$nofile" -gt 1048576 ] && nofile=1048576
  nproc=$(ulimit -Hu)
  if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
  runtime=""
  if command -v runc >/dev/null 2>&1; then runtime='runtime = "runc"'; fi
  network=""
  # Debian's package also leaves a CNI configuration behind, which podman would otherwise pick.
  if [ -x /usr/lib/podman/netavark ]; then network='network_backend = "netavark"'; fi
  say "writing $CONF (runtime runc, nofile $nofile, nproc $nproc)"
  mkdir -p /etc/containers
  cat >"$CONF" <<CONFEOF
# Written by Mizual's deploy/podman/prepare.sh: crun refuses cgroup v1 "hybrid" hosts, and
# default ulimits above the hard limits cannot be set without CAP_SYS_RESOURCE.
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
$runtime
[network]
$network
CONFEOF
fi

if podman image exists "$BASE_TAG"; then
  exit 0
fi
# A registry may answer after all (a user's machine): then the image is pulled as usual.
if timeout 60 podman pull -q "$BASE_TAG" >/dev/null 2>&1; then
  say "pulled $BASE_TAG"
  exit 0
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  say "no registry answers and debootstrap is missing: cannot make $BASE_TAG" >&2
  exit 1
fi
say "no registry answers: making $BASE_TAG with debootstrap (about a minute)"
rootfs=$(mktemp -d /var/tmp/mizual-base.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$MIRROR" >/dev/null
# This machine's own extra CA certificates (a TLS-intercepting network), so that HTTPS works
# from builds here. They stay in this locally made base image; the Dockerfile never names them.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  chroot "$rootfs" update-ca-certificates >/dev/null
fi
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
  "$rootfs"/usr/share/locale/*
tar -C "$rootfs" -c . | podman import -q --change 'CMD ["bash"]' - localhost/debian-base:bookworm >/dev/null
podman tag localhost/debian-base:bookworm "$BASE_TAG" docker.io/library/debian:bookworm
say "made $BASE_TAG ($(podman image inspect --format '{{.Size}}' "$BASE_TAG" | awk '{printf "%d MB", $1/1e6}'))"
