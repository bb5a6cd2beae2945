#!/bin/sh
# Checks the .deb and the release playbook for real in a throwaway Debian 12 chroot, no VM:
#   1. dpkg -i inside the chroot (postinst must cope with no systemd), unit disabled,
#      config blank;
#   2. release.yml through Ansible's chroot connection with one environment's var-file,
#      twice (the second run must change nothing);
#   3. the service on the chroot's own nodejs 18, as an unprivileged user holding only
#      CAP_NET_BIND_SERVICE (what the unit's DynamicUser=/AmbientCapabilities= give it),
#      in a private network namespace; then SIGTERM must exit 0;
#   4. dpkg --purge removes the config and the enablement link.
# Needs root, mmdebstrap (or HELLO_WEB_ROOTFS_TAR: a bookworm minbase tarball that has
# systemd, nodejs and python3), ansible-playbook with community.general, unshare.
# Usage: sudo ./check-offline.sh [dev|staging|prod]   (default prod: port 80 is the hard case)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
env_name=${1:-prod}
say() { printf 'check-offline: %s\n' "$*" >&2; }
die() { printf 'check-offline: FAIL: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (chroot, unshare)"
var_file="$here/environments/$env_name.json"
[ -f "$var_file" ] || die "no environment $env_name ($var_file)"
port=$(node -p "require(process.argv[1]).http_port" "$var_file")

work=$(mktemp -d "${TMPDIR:-/tmp}/hello-web-offline.XXXXXX")
cleanup() {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
root="$work/root"
mkdir "$root"

deb=$(sh "$here/package/build-deb.sh" "$work/dist")
if [ -n "${HELLO_WEB_ROOTFS_TAR:-}" ]; then
  tar -xpf "$HELLO_WEB_ROOTFS_TAR" -C "$root"
else
  say "making a bookworm chroot with mmdebstrap (30 s on an idle machine)"
  mmdebstrap --quiet --variant=minbase --include=systemd,systemd-sysv,nodejs,python3 \
    bookworm "$root" >/dev/null
fi

say "1. installing $(basename "$deb") in the chroot"
cp "$deb" "$root/tmp/hello-web.deb"
chroot "$root" dpkg -i /tmp/hello-web.deb >&2
rm "$root/tmp/hello-web.deb"
state=$(systemctl --root="$root" is-enabled hello-web.service || true)
[ "$state" = disabled ] || die "after dpkg -i the unit is '$state', not 'disabled'"
grep -q '^HELLO_WEB_PORT=$' "$root/etc/hello-web/hello-web.env" || die "the config is not blank"
say "   unit $state, config blank, node $(chroot "$root" node --version)"

say "2. release.yml with environments/$env_name.json (port $port)"
playbook() {
  ANSIBLE_NOCOLOR=1 ANSIBLE_HOST_KEY_CHECKING=False ansible-playbook \
    -i "$root," -c community.general.chroot \
    -e "@$var_file" -e "hello_web_port=$port" -e "hello_web_environment=$env_name" \
    -e ansible_python_interpreter=/usr/bin/python3 "$here/packer/release.yml"
}
playbook >"$work/play1.log" 2>&1 || { cat "$work/play1.log" >&2; die "release.yml failed"; }
playbook >"$work/play2.log" 2>&1 || { cat "$work/play2.log" >&2; die "release.yml failed on the second run"; }
grep -Eq 'changed=0 +unreachable=0 +failed=0' "$work/play2.log" ||
  { cat "$work/play2.log" >&2; die "a second run of release.yml changed something"; }
state=$(systemctl --root="$root" is-enabled hello-web.service || true)
[ "$state" = enabled ] || die "after release.yml the unit is '$state', not 'enabled'"
grep -q "^HELLO_WEB_PORT=$port\$" "$root/etc/hello-web/hello-web.env" || die "port $port not written"
[ "$(stat -c '%a %U' "$root/etc/hello-web/hello-web.env")" = "644 root" ] || die "config mode is not 0644 root"
say "   unit $state, HELLO_WEB_PORT=$port, second run changed nothing"

say "3. serving on port $port as uid 65534 with CAP_NET_BIND_SERVICE only, SIGTERM"
unshare --net sh -eu -c '
  root=$1; port=$2; work=$3
  ip link set lo up
  chroot "$root" setpriv --reuid=65534 --regid=65534 --clear-groups \
    --inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service \
    /usr/bin/node /usr/lib/hello-web/server.js >"$work/server.out" 2>"$work/server.err" &
  pid=$!
  i=0
  until curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "no answer on $port" >&2; cat "$work/server.err" >&2; exit 1; }
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$port/" >"$work/answer"
  kill -TERM $pid
  code=0; wait $pid || code=$?
  echo $code >"$work/exit"
' sh "$root" "$port" "$work" || die "the service did not serve"
[ "$(cat "$work/answer")" = "Hello world on port $port" ] || die "answer was: $(cat "$work/answer")"
[ "$(cat "$work/exit")" = 0 ] || die "exit code after SIGTERM: $(cat "$work/exit"); stderr: $(cat "$work/server.err")"
say "   $(head -1 "$work/server.out")"
say "   answered \"$(cat "$work/answer")\", exit 0 after SIGTERM"

say "4. dpkg --purge"
chroot "$root" dpkg --purge hello-web >&2
for gone in etc/hello-web lib/systemd/system/hello-web.service usr/lib/hello-web \
  etc/systemd/system/multi-user.target.wants/hello-web.service; do
  [ ! -e "$root/$gone" ] && [ ! -L "$root/$gone" ] || die "/$gone is left after purge"
done
say "OK"
