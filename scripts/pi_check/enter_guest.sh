#!/usr/bin/env bash
# Run by pi_check.sh inside `unshare --mount --propagation private`: every mount made here
# lives in that private namespace and disappears with it, however the run ends.
#
#   enter_guest.sh ROOTFS WORKDIR CPUINFO QEMU_CPU INPUTS REPO_TAR KIND
#
# Lays a writable overlay (upper layer in WORKDIR) over the cached ROOTFS, gives it the
# host's DNS settings, a Raspberry Pi 4 /proc/cpuinfo and a copy of the repository, then
# runs guest_run.sh in it with chroot (qemu-user runs the ARM binaries via binfmt_misc).
set -euo pipefail

rootfs=$1 workdir=$2 cpuinfo=$3 qemu_cpu=$4 inputs=$5 repo_tar=$6 kind=$7
root=$workdir/root
mkdir -p "$workdir/upper" "$workdir/work" "$root"

mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$workdir/upper,workdir=$workdir/work" "$root"
mount -t proc proc "$root/proc"
# LiteRT (its cpuinfo library) reads /proc/cpuinfo: under qemu-user it would see the host's x86
# one and crash, so the guest sees a Pi 4's.
mount --bind "$cpuinfo" "$root/proc/cpuinfo"
mount -t sysfs -o ro sysfs "$root/sys"
mount --rbind /dev "$root/dev"

rm -f "$root/etc/resolv.conf"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# A host behind a TLS-intercepting proxy trusts extra CAs; the guest needs them for PyPI.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
fi
# The README's commands start with sudo; the guest runs them as root.
printf '#!/bin/sh\nexec "$@"\n' >"$root/usr/local/bin/sudo"
chmod 755 "$root/usr/local/bin/sudo"

mkdir -p "$root/root/digit-kit"
tar -xf "$repo_tar" -C "$root/root/digit-kit"
cp -r "$inputs" "$root/root/check"

exec env -i HOME=/root LANG=C.UTF-8 TERM=dumb PYTHONUNBUFFERED=1 QEMU_CPU="$qemu_cpu" \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  chroot "$root" /bin/bash /root/check/guest_run.sh "$kind"
