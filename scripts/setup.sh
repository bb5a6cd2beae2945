#!/usr/bin/env bash
# Installs kiln's system dependencies (Debian packages) and its npm packages, then builds it.
# Safe to run again: apt and npm skip what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
# xorriso: cd_files/cd_content; isolinux, syslinux-common, extlinux, busybox-static: the installer ISO test.
# zsh, fish: test/cli-completion.test.ts drives `kiln completion zsh|fish` in them.
need=(qemu-system-x86 qemu-utils mmdebstrap e2fsprogs openssh-client openssh-server ansible packer dpkg-dev curl time zstd docker-registry skopeo xorriso isolinux syslinux-common extlinux busybox-static zsh fish)
missing=()
for p in "${need[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
npm ci --no-audit --no-fund
npm run build
