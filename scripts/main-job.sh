#!/usr/bin/env bash
# The main job, end to end on the local QEMU backend, on a fresh Debian 12 machine:
# set-up → unit tests of the sample → package (.deb) → base image → build image →
# release image (dev) → boot an instance from it → fetch "Hello world on port 8080".
# Image IDs pass between stages through Packer's -machine-readable output, as a CI would.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
./scripts/setup.sh >&2
kiln() { node "$root/bin/kiln.js" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
artifact_id() { grep ',artifact,0,id,' | tail -n1 | cut -d, -f6; }

step "unit tests of the sample service"
npx vitest run --project unit examples/hello-web >&2

step "package the service (.deb)"
examples/hello-web/package/build-deb.sh >&2

step "base image (Debian 12; instant when it exists)"
kiln base debian-12 >&2

step "build image"
build_id=$(kiln build -machine-readable examples/hello-web/packer/packer-build.json | tee >(cat >&2) | artifact_id)
[ -n "$build_id" ] || { echo "main-job: the build printed no artifact id" >&2; exit 1; }

step "release image (dev) from $build_id"
release_id=$(kiln build -machine-readable -var "source_image=$build_id" \
  -var-file examples/hello-web/environments/dev.json \
  examples/hello-web/packer/packer-release.json | tee >(cat >&2) | artifact_id)
[ -n "$release_id" ] || { echo "main-job: the release printed no artifact id" >&2; exit 1; }

step "run $release_id and ask it over HTTP"
instance=$(kiln run "$release_id" -p 8080:8080 --wait-http /healthz --quiet)
trap 'kiln stop "$instance" >/dev/null 2>&1 || true' EXIT
answer=$(curl -fsS --max-time 5 http://127.0.0.1:8080/)
echo "release image: $release_id"
echo "$answer"
[ "$answer" = "Hello world on port 8080" ]
