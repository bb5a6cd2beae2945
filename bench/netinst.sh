#!/usr/bin/env bash
# The installer-path benchmark case (issue 17; not in CI): a real Debian 12 network install,
# run by kiln and then by Packer 1.6.6 on the same template (bench/netinst/netinst.json),
# printing both wall times.
#
# The Debian installer's netboot kernel and initrd come from Debian's
# debian-installer-12-netboot-amd64 package; both tools boot ISOs, so they go onto a small
# ISO (xorriso + isolinux) whose `boot:` prompt waits for the typed boot_command. The
# preseed (bench/netinst/preseed.cfg.in, filled in here with a fresh SSH key and a random
# root password's hash) is served from http_directory; packages come from deb.debian.org.
#
# Usage: bench/netinst.sh [kiln|packer|both]   (default both; `npm run build` first)
# Environment: KILN_VM_LOCK=/tmp/kiln-vm.lock runs each tool under `flock` on that file;
# NETINST_WORK=DIR keeps the work directory (ISO, logs) there instead of a temp dir that
# is removed at the end.
# Needs: qemu-system-x86, xorriso, isolinux, syslinux-common, debian-installer-12-netboot-amd64,
# packer (1.6.6), openssh-client, openssl.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
which=${1:-both}
case $which in kiln | packer | both) ;; *) echo "usage: $0 [kiln|packer|both]" >&2; exit 2 ;; esac

di=/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64
for f in "$di/linux" "$di/initrd.gz" /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32; do
  [ -f "$f" ] || { echo "netinst: $f is missing: apt-get install debian-installer-12-netboot-amd64 isolinux syslinux-common" >&2; exit 1; }
done
for t in xorriso qemu-system-x86_64 ssh-keygen openssl; do
  command -v "$t" >/dev/null || { echo "netinst: $t is missing (see scripts/setup.sh)" >&2; exit 1; }
done
if [ "$which" != packer ] && [ ! -f "$root/dist/cli/main.js" ]; then
  echo "netinst: kiln is not built: run npm run build" >&2; exit 1
fi
if [ "$which" != kiln ]; then
  command -v packer >/dev/null || { echo "netinst: packer is missing (apt-get install packer)" >&2; exit 1; }
fi

# The installer loads most of itself (partman, base-installer, apt-setup…) as .udeb files
# from the mirror: a mirror or proxy that serves .deb but not .udeb (seen here: 404) makes it
# stop at "Download installer components" after the network is up. Check before booting.
if [ -z "${NETINST_SKIP_MIRROR_CHECK:-}" ]; then
  mirror=http://deb.debian.org/debian
  udeb=$(curl -sf "$mirror/dists/bookworm/main/debian-installer/binary-amd64/Packages.xz" | xz -dc 2>/dev/null | sed -n 's/^Filename: //p' | head -1 || true)
  code=$( [ -n "$udeb" ] && curl -s -o /dev/null -I -w '%{http_code}' "$mirror/$udeb" || echo none)
  if [ "$code" != 200 ]; then
    echo "netinst: $mirror serves no installer components from here (${udeb:-the debian-installer index}: HTTP $code): the Debian installer would stop at \"Download installer components\"; run where the whole mirror is reachable (NETINST_SKIP_MIRROR_CHECK=1 skips this check)" >&2
    exit 1
  fi
fi

if [ -n "${NETINST_WORK:-}" ]; then
  work=$NETINST_WORK; mkdir -p "$work"
else
  work=$(mktemp -d /tmp/kiln-netinst-XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
echo "netinst: work directory $work"

# The ISO: isolinux's prompt (no timeout: nothing boots until the keys are typed), whose
# `install` label boots the installer; the typed words are appended to its command line.
rm -rf "$work/iso-tree"; mkdir -p "$work/iso-tree/isolinux"
cp "$di/linux" "$di/initrd.gz" "$work/iso-tree/"
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$work/iso-tree/isolinux/"
cat >"$work/iso-tree/isolinux/isolinux.cfg" <<'EOF'
SERIAL 0 115200
PROMPT 1
TIMEOUT 0
DEFAULT install
LABEL install
  KERNEL /linux
  APPEND initrd=/initrd.gz
EOF
xorriso -as mkisofs -quiet -o "$work/netinst.iso" -V DEBIAN_NETINST \
  -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
  -R -J "$work/iso-tree"
rm -rf "$work/iso-tree"
iso_sum=$(sha256sum "$work/netinst.iso" | cut -d' ' -f1)

# The SSH key both tools connect with, and the preseed that installs it for root.
rm -f "$work/key" "$work/key.pub"
ssh-keygen -q -t ed25519 -N '' -C kiln-netinst -f "$work/key"
hash=$(openssl passwd -6 "$(openssl rand -hex 24)")
pub=$(cat "$work/key.pub")
mkdir -p "$work/http"
preseed=$(cat "$here/netinst/preseed.cfg.in")
preseed=${preseed//@ROOT_PASSWORD_HASH@/$hash}
preseed=${preseed//@SSH_PUBLIC_KEY@/$pub}
printf '%s\n' "$preseed" >"$work/http/preseed.cfg"
cp "$here/netinst/netinst.json" "$work/netinst.json"
vars=(-var "iso=$work/netinst.iso" -var "iso_checksum=sha256:$iso_sum" -var "http_dir=$work/http" -var "ssh_key=$work/key")

lock=()
[ -n "${KILN_VM_LOCK:-}" ] && lock=(flock "$KILN_VM_LOCK")

# Runs one tool in the work directory; prints its wall time (the lock wait not counted).
timed() {
  local name=$1; shift
  local log="$work/$name.log"
  echo "netinst: $name: started $(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg); log $log"
  local rc=0
  # The clock starts inside the lock, so waiting for another engineer's VM is not counted.
  (cd "$work" && "${lock[@]}" bash -c 'start=$(date +%s.%N); "$@"; rc=$?; end=$(date +%s.%N); awk -v a="$start" -v b="$end" "BEGIN { printf \"netinst-wall %.1f\\n\", b - a }" >&2; exit $rc' _ "$@") >"$log" 2>&1 || rc=$?
  local wall
  wall=$(sed -n 's/^netinst-wall //p' "$log" | tail -1)
  echo "netinst: $name: exit $rc, wall ${wall:-?} s, ended $(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
  if [ "$rc" != 0 ]; then tail -n 30 "$log" | sed "s/^/netinst: $name: /" >&2; fi
  eval "wall_$name=\${wall:-failed}"
  return 0
}

wall_kiln=skipped; wall_packer=skipped
if [ "$which" != packer ]; then
  # A kiln home of its own, and no cache: the install really runs.
  timed kiln env KILN_HOME="$work/kiln-home" node "$root/bin/kiln.js" build -no-cache "${vars[@]}" netinst.json
fi
if [ "$which" != kiln ]; then
  rm -rf "$work/output-qemu"
  timed packer env PACKER_CACHE_DIR="$work/packer_cache" CHECKPOINT_DISABLE=1 packer build "${vars[@]}" netinst.json
  rm -rf "$work/output-qemu" "$work/packer_cache"
fi
echo "netinst: wall time: kiln ${wall_kiln} s, packer ${wall_packer} s"
