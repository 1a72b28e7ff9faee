#!/bin/bash
# Builds the rig's dom0 root from Debian packages into DIR (an empty or
# missing directory): a minbase Debian with xen-utils-4.17 at the hypervisor's
# exact version, Debian's kernel, busybox and the host's Node.js, packed as an
# uncompressed initramfs (dom0 runs from RAM). Also leaves in DIR:
#   dom0.cpio    the root, without /init (the rig appends its own each run)
#   vmlinuz      Debian's kernel: the PV dom0 kernel and the guests' kernel
#   versions     what went in
# The guest's initramfs is built into the root at /var/lib/xenfleet-rig/.
#
# Usage: build-root.sh DIR XEN_VERSION
set -euo pipefail

dir=$1
xen_version=$2
here=$(cd "$(dirname "$0")" && pwd)
mirror=http://deb.debian.org/debian
security=http://deb.debian.org/debian-security

mkdir -p "$dir"
work=$(mktemp -d "$dir/build.XXXXXX")
root=$work/root
cleanup() {
  for m in proc sys dev/pts dev; do
    if mountpoint -q "$root/$m" 2>/dev/null; then umount -l "$root/$m" || true; fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

echo "xen-rig: debootstrap (minbase, bookworm) into $root" >&2
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}

cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
# No service starts inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"

mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"

in_root() { chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

echo "xen-rig: installing xen-utils-4.17=$xen_version, linux-image-amd64, busybox-static" >&2
in_root apt-get update >"$work/apt.log" 2>&1
# The toolstack must match the hypervisor exactly: pin every Xen library to its version.
xen_pkgs=()
for p in xen-utils-4.17 xen-utils-common xenstore-utils libxenmisc4.17 libxencall1 libxendevicemodel1 \
  libxenevtchn1 libxenforeignmemory1 libxengnttab1 libxenhypfs1 libxenstore4 libxentoolcore1 libxentoollog1; do
  xen_pkgs+=("$p=$xen_version")
done
in_root apt-get install -y --no-install-recommends "${xen_pkgs[@]}" linux-image-amd64 busybox-static \
  iproute2 kmod procps >>"$work/apt.log" 2>&1 || {
  tail -n 30 "$work/apt.log" >&2
  exit 1
}
in_root apt-get clean

# The host's Node.js (the project needs >= 20; bookworm ships 18) and any
# shared library it needs that the root lacks.
install -m 755 /usr/bin/node "$root/usr/local/bin/node"
while read -r lib; do
  [ -e "$root$lib" ] || install -D -m 644 "$lib" "$root$lib"
done < <(ldd /usr/bin/node | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
in_root /usr/local/bin/node --version >/dev/null

kernel=$(cd "$root/boot" && ls vmlinuz-* | sort -V | tail -n 1)
kver=${kernel#vmlinuz-}
cp "$root/boot/$kernel" "$work/vmlinuz"

# Only what dom0 loads is kept of the kernel's modules: Xen back ends and
# devices, virtio, 9p, networking, filesystems. The rest only costs RAM.
moddir=$root/lib/modules/$kver/kernel
for d in sound drivers/gpu drivers/media drivers/infiniband drivers/staging drivers/net/wireless \
  drivers/bluetooth net/bluetooth net/wireless net/mac80211 drivers/usb drivers/hid drivers/iio \
  drivers/input drivers/scsi drivers/ata drivers/md drivers/mtd drivers/isdn drivers/nfc net/nfc \
  drivers/net/ethernet/mellanox drivers/net/ethernet/broadcom drivers/net/ethernet/qlogic \
  drivers/net/ethernet/chelsio drivers/net/ethernet/sfc drivers/net/can drivers/gpio drivers/i2c \
  drivers/platform drivers/hwmon drivers/thunderbolt drivers/w1 drivers/mfd drivers/leds fs/ocfs2 \
  fs/xfs fs/btrfs fs/gfs2 fs/nfs fs/nfsd fs/ceph fs/smb fs/f2fs net/sunrpc net/ceph; do
  rm -rf "${moddir:?}/$d"
done
in_root depmod "$kver"
rm -rf "$root"/boot/initrd.img-* "$root"/usr/share/doc "$root"/usr/share/man "$root"/usr/share/locale \
  "$root"/usr/share/info "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin

# The test guest's initramfs: busybox and the heartbeat init.
g=$work/guest
mkdir -p "$g/bin" "$g/dev" "$g/proc"
cp "$root/bin/busybox" "$g/bin/busybox"
install -m 755 "$here/guest/init" "$g/init"
mkdir -p "$root/var/lib/xenfleet-rig"
(cd "$g" && find . -print0 | cpio --null -o -H newc --quiet) >"$root/var/lib/xenfleet-rig/guest.cpio"
ln -sf "/boot/$kernel" "$root/var/lib/xenfleet-rig/vmlinuz"

for m in proc sys dev/pts dev; do umount -l "$root/$m"; done
rm -f "$root/usr/sbin/policy-rc.d" "$root/init"

{
  echo "xen $xen_version"
  echo "kernel $kver"
  in_root dpkg-query -W -f='${Package} ${Version}\n' busybox-static xen-utils-4.17 linux-image-amd64
  echo "node $("$root/usr/local/bin/node" --version)"
} >"$work/versions"

echo "xen-rig: packing the root" >&2
(cd "$root" && find . -path ./init -prune -o -print0 | cpio --null -o -H newc --quiet) >"$work/dom0.cpio"
mv "$work/dom0.cpio" "$work/vmlinuz" "$work/versions" "$dir/"
echo "xen-rig: root ready in $dir ($(du -h "$dir/dom0.cpio" | cut -f1))" >&2
