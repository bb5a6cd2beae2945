#!/usr/bin/env bash
# The peer's base image (Packer + Ansible side of the benchmark), made the way the measured
# anchor made it (shared/anchor/make-base.sh): a user "packer" with a key and passwordless
# sudo, systemd-networkd, direct kernel boot. Input: a rootfs tarball made by mmdebstrap with
# the same package set as `kiln base debian-12`. Usage: make-base.sh ROOTFS.tar OUTDIR
set -euo pipefail
tar_in=$1; out=$2
root=$out/base-root
rm -rf "$root"; mkdir -p "$root" "$out/keys" "$out/boot"
tar -xpf "$tar_in" -C "$root" --numeric-owner
[ -f "$out/keys/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$out/keys/id_ed25519" -C kiln-bench-peer
chroot "$root" useradd -m -s /bin/bash -G sudo packer
install -d -m 700 "$root/home/packer/.ssh"
install -m 600 "$out/keys/id_ed25519.pub" "$root/home/packer/.ssh/authorized_keys"
chroot "$root" chown -R packer:packer /home/packer/.ssh
echo 'packer ALL=(ALL) NOPASSWD:ALL' > "$root/etc/sudoers.d/packer"; chmod 440 "$root/etc/sudoers.d/packer"
rm -f "$root"/etc/ssh/ssh_host_*; chroot "$root" ssh-keygen -A >/dev/null
printf 'UseDNS no\nPasswordAuthentication no\n' > "$root/etc/ssh/sshd_config.d/10-anchor.conf"
printf 'auto lo\niface lo inet loopback\n' > "$root/etc/network/interfaces" 2>/dev/null || true
mkdir -p "$root/etc/systemd/network"
printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\n' > "$root/etc/systemd/network/10-dhcp.network"
chroot "$root" systemctl enable systemd-networkd.service >/dev/null 2>&1
chroot "$root" systemctl disable systemd-networkd-wait-online.service >/dev/null 2>&1 || true
chroot "$root" systemctl disable apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer >/dev/null 2>&1 || true
echo '/dev/vda / ext4 defaults 0 1' > "$root/etc/fstab"
echo peer-base > "$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 peer-base\n' > "$root/etc/hosts"
cp "$(ls "$root"/boot/vmlinuz-* | head -1)" "$out/boot/vmlinuz"
cp "$(ls "$root"/boot/initrd.img-* | head -1)" "$out/boot/initrd.img"
rm -f "$out/base.raw" "$out/base.qcow2"
mkfs.ext4 -q -F -L root -d "$root" "$out/base.raw" 2G
qemu-img convert -O qcow2 "$out/base.raw" "$out/base.qcow2"
rm -rf "$out/base.raw" "$root"
