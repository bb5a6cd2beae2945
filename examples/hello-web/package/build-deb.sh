#!/bin/sh
# Builds the hello-web Debian package with dpkg-deb alone (no debhelper):
#   examples/hello-web/dist/hello-web_<version>_all.deb   (or in the directory given as $1)
# The build is reproducible: unchanged inputs give a byte-identical .deb, so kiln can
# skip an image build whose inputs did not change. Prints the .deb's path on stdout;
# progress goes to stderr.
#
# Environment: VERSION (default: "version" in examples/hello-web/package.json);
# SOURCE_DATE_EPOCH (default: the commit time of the last change to what is shipped).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
app=$(dirname "$here")
repo=$(cd "$app/../.." && pwd)
out=${1:-$app/dist}

say() { printf 'build-deb: %s\n' "$*" >&2; }
die() { printf 'build-deb: error: %s\n' "$*" >&2; exit 1; }

# Check everything before writing anything.
command -v dpkg-deb >/dev/null || die "dpkg-deb not found (hint: apt-get install dpkg)"
tsc="$repo/node_modules/typescript/bin/tsc"
[ -f "$tsc" ] || die "TypeScript not found at $tsc (hint: run npm ci in $repo)"

version=${VERSION:-$(node -p "require(process.argv[1]).version" "$app/package.json")}
# Debian policy: an upstream version starts with a digit; no epoch or revision here.
printf '%s\n' "$version" | grep -Eq '^[0-9][A-Za-z0-9.+~]*(-[A-Za-z0-9.+~]+)?$' ||
  die "VERSION \"$version\" is not a Debian version (hint: like 1.0.0 or 1.0.0-1)"

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  # The shipped inputs only: a change to a test or the README must not change the .deb.
  SOURCE_DATE_EPOCH=$(git -C "$app" log -1 --format=%ct -- \
    service/src service/tsconfig.json package package.json \
    ':(exclude,glob)**/*.test.ts' 2>/dev/null || true)
  [ -n "$SOURCE_DATE_EPOCH" ] ||
    die "SOURCE_DATE_EPOCH is not set and no git history was found (hint: export SOURCE_DATE_EPOCH=\$(date +%s))"
fi
printf '%s\n' "$SOURCE_DATE_EPOCH" | grep -Eq '^[0-9]+$' ||
  die "SOURCE_DATE_EPOCH \"$SOURCE_DATE_EPOCH\" is not a number of seconds"
export SOURCE_DATE_EPOCH

stage=$(mktemp -d "${TMPDIR:-/tmp}/hello-web-deb.XXXXXX")
partial=''
trap 'rm -rf "$stage" $partial' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
umask 022
root="$stage/root"

say "compiling the service (tsc -p examples/hello-web/service)"
node "$tsc" -p "$app/service" --outDir "$root/usr/lib/hello-web"

install -D -m 0644 "$here/hello-web.service" "$root/lib/systemd/system/hello-web.service"
install -D -m 0644 "$here/hello-web.env" "$root/etc/hello-web/hello-web.env"
install -D -m 0644 "$here/debian/copyright" "$root/usr/share/doc/hello-web/copyright"
install -d -m 0755 "$root/DEBIAN"
install -m 0644 "$here/debian/conffiles" "$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "$here/debian/$script" "$root/DEBIAN/$script"
done
find "$root/usr/lib/hello-web" -type f -exec chmod 0644 {} +

# Installed-Size in KiB as dpkg counts it: each file rounded up, plus one per directory.
# File sizes only, so it does not depend on the file system the build ran on.
size=$(find "$root" -path "$root/DEBIAN" -prune -o -type f -printf '%s\n' |
  awk '{ kib += int(($1 + 1023) / 1024) } END { print kib + 0 }')
dirs=$(find "$root" -path "$root/DEBIAN" -prune -o -type d -print | wc -l)
sed -e "s/@VERSION@/$version/" -e "s/@INSTALLED_SIZE@/$((size + dirs))/" \
  "$here/debian/control" >"$root/DEBIAN/control"

# Same mtimes for every entry; dpkg-deb sorts entries, uses SOURCE_DATE_EPOCH for the ar
# header and --root-owner-group for owners. One xz thread: multi-threaded xz output
# depends on the thread count, i.e. on the machine.
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$out"
deb="$out/hello-web_${version}_all.deb"
# Written beside the target and renamed, so a failed build never leaves half a .deb.
partial="$out/.hello-web_${version}_all.deb.$$"
dpkg-deb --root-owner-group -Zxz --threads-max=1 --build "$root" "$partial" >/dev/null
mv -f "$partial" "$deb"
say "wrote $deb ($(wc -c <"$deb") bytes, sha256 $(sha256sum "$deb" | cut -d' ' -f1))"
printf '%s\n' "$deb"
