#!/usr/bin/env bash
# Build the project's Dockerfile with no Docker engine and no registry (`make image`).
#
#   1. base: Debian bookworm + python3 made with mmdebstrap, cached as a tarball outside the work
#      tree under a key of everything that decides its contents (the recipe and the apt sources);
#   2. uv:   a scratch image holding /uv from PyPI's uv wheel, at the version the Dockerfile pins;
#   3. the Dockerfile itself, with buildah (chroot isolation, vfs storage), both bases passed as
#      build arguments. The result is localhost/jobwatch:VERSION in buildah's local storage.
#
# Needs buildah and mmdebstrap (`make image` installs them from Debian through `make image-tools`).
# Progress goes to stdout; a failure is one line on stderr naming the full log.
#
# environment:
#   JOBWATCH_IMAGE            image name        (default localhost/jobwatch:VERSION from the Dockerfile)
#   JOBWATCH_IMAGE_CACHE      cache directory   (default ${XDG_CACHE_HOME:-~/.cache}/jobwatch-image)
#   JOBWATCH_IMAGE_STORAGE    a private containers-storage directory (default: buildah's own)
#   JOBWATCH_IMAGE_SOURCES    apt sources for the base (default: this machine's Debian sources)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
me="make image"
fail() {
    echo "$me: error: $*" >&2
    exit 1
}
step() { echo "==> $*"; }
on_error() { fail "line $1: \`$2\` failed"; }
trap 'on_error $LINENO "$BASH_COMMAND"' ERR

dockerfile="$here/Dockerfile"
version=$(sed -n 's/^ARG VERSION=//p' "$dockerfile")
uv_image_default=$(sed -n 's/^ARG UV_IMAGE=//p' "$dockerfile")
uv_version=${uv_image_default##*:}
[ -n "$version" ] && [ -n "$uv_version" ] || fail "cannot read ARG VERSION / ARG UV_IMAGE from $dockerfile"
image=${JOBWATCH_IMAGE:-localhost/jobwatch:$version}
cache=${JOBWATCH_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jobwatch-image}
# Logs per checkout: several clones may build at once on one machine, into one cache and storage.
logs=$cache/logs/$(printf '%s' "$here" | sha256sum | cut -c1-12)
mkdir -p "$cache" "$logs" || fail "cannot create the cache directory $cache"

# --- tools (`make image-tools` installs them) ----------------------------------------------------
for tool in buildah mmdebstrap; do
    command -v "$tool" >/dev/null || fail "$tool is not installed: run \`make image-tools\` (Debian package $tool)"
done

buildah=(buildah --storage-driver vfs)
if [ -n "${JOBWATCH_IMAGE_STORAGE:-}" ]; then
    buildah+=(--root "$JOBWATCH_IMAGE_STORAGE/root" --runroot "$JOBWATCH_IMAGE_STORAGE/run")
fi
export BUILDAH_ISOLATION=chroot

has_image() { "${buildah[@]}" inspect --type image "$1" >/dev/null 2>&1; }

# run LOG CMD...: output to LOG; on failure one line with the last error-looking line of LOG.
run() {
    local log=$1
    shift
    if ! "$@" >"$log" 2>&1; then
        local why
        why=$(grep -E -i 'error|fail|denied|not permitted|cannot' "$log" | tail -n 1)
        fail "$1 failed: ${why:-$(tail -n 1 "$log")} (log: $log)"
    fi
}

# --- 1. base: Debian bookworm + python3 ----------------------------------------------------------
sources=${JOBWATCH_IMAGE_SOURCES:-}
if [ -z "$sources" ]; then
    for candidate in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
        if [ -s "$candidate" ]; then
            sources=$candidate
            break
        fi
    done
fi
[ -n "$sources" ] && [ -s "$sources" ] || fail "no apt sources for the base (set JOBWATCH_IMAGE_SOURCES)"
# Merged /usr through the hook, not the usrmerge package (which drags perl in: +50 MB).
# Documentation, manuals and translations are left out; copyright files stay.
recipe=(
    --variant=essential --include=python3 --format=tar
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
    '--dpkgopt=path-exclude=/usr/share/doc/*' '--dpkgopt=path-include=/usr/share/doc/*/copyright'
    '--dpkgopt=path-exclude=/usr/share/man/*' '--dpkgopt=path-exclude=/usr/share/info/*'
    '--dpkgopt=path-exclude=/usr/share/locale/*'
    bookworm
)
key=$({ printf '%s\n' "${recipe[@]}"; cat "$sources"; } | sha256sum | cut -c1-16)
base_tar=$cache/base-bookworm-python3-$key.tar
base_image=localhost/jobwatch-base:bookworm-python3-$key
if has_image "$base_image"; then
    step "base $base_image (cached)"
else
    if [ -s "$base_tar" ]; then
        step "base: importing the cached $base_tar"
    else
        step "base: Debian bookworm + python3 with mmdebstrap (about 2 min; log: $logs/mmdebstrap.log)"
        run "$logs/mmdebstrap.log" mmdebstrap "${recipe[@]}" "$base_tar.$$.part" "$sources"
        mv "$base_tar.$$.part" "$base_tar"
    fi
    ctr=$("${buildah[@]}" from scratch)
    run "$logs/import.log" "${buildah[@]}" add "$ctr" "$base_tar" /
    run "$logs/import.log" "${buildah[@]}" config \
        --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --env LANG=C.UTF-8 --cmd '["python3"]' \
        --label org.opencontainers.image.description="Debian bookworm with python3 (mmdebstrap, recipe $key)" \
        "$ctr"
    run "$logs/import.log" "${buildah[@]}" commit --rm --quiet "$ctr" "$base_image"
    step "base $base_image"
fi

# --- 2. uv: the pinned binary from PyPI's wheel --------------------------------------------------
uv_image=localhost/jobwatch-uv:$uv_version
if has_image "$uv_image"; then
    step "uv $uv_image (cached)"
else
    wheels=$cache/uv-$uv_version
    if ! compgen -G "$wheels/uv-$uv_version-*.whl" >/dev/null; then
        step "uv: downloading the uv $uv_version wheel from PyPI"
        run "$logs/uv.log" python3 -m pip download --quiet --no-deps --only-binary=:all: \
            --dest "$wheels.$$" "uv==$uv_version"
        mkdir -p "$wheels"
        mv "$wheels.$$"/*.whl "$wheels"/
        rm -rf "$wheels.$$"
    fi
    unpacked=$(mktemp -d)
    trap 'rm -rf "$unpacked"' EXIT
    run "$logs/uv.log" python3 -c '
import sys, zipfile
from pathlib import Path
wheel, dest = sys.argv[1], Path(sys.argv[2])
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.endswith((".data/scripts/uv", ".data/scripts/uvx")):
            target = dest / Path(name).name
            target.write_bytes(z.read(name))
            target.chmod(0o755)
' "$(compgen -G "$wheels/uv-$uv_version-*.whl" | head -n 1)" "$unpacked"
    [ -x "$unpacked/uv" ] || fail "the uv $uv_version wheel holds no uv binary"
    ctr=$("${buildah[@]}" from scratch)
    run "$logs/uv.log" "${buildah[@]}" copy "$ctr" "$unpacked/uv" "$unpacked/uvx" /
    run "$logs/uv.log" "${buildah[@]}" commit --rm --quiet "$ctr" "$uv_image"
    step "uv $uv_image"
fi

# --- 3. the Dockerfile ---------------------------------------------------------------------------
log=$logs/build.log
# The CA bundle this machine trusts reaches the build's PyPI downloads as a secret, so a
# TLS-intercepting proxy works as it does for the host's own uv and pip.
secret=()
ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
if [ -s "$ca" ]; then
    secret=(--secret "id=ca-certificates,src=$ca")
fi
step "building $image from $dockerfile (buildah, chroot isolation, vfs; log: $log)"
started=$SECONDS
trap - ERR
set +e
"${buildah[@]}" build --isolation chroot --layers --pull=never \
    --build-arg "PYTHON_IMAGE=$base_image" --build-arg "UV_IMAGE=$uv_image" "${secret[@]}" \
    --tag "$image" --file "$dockerfile" "$here" 2>&1 |
    tee "$log" | grep --line-buffered -E '^(\[[0-9]+/[0-9]+\] )?STEP [0-9]+/[0-9]+' |
    sed -u -E 's/^(.{100}).{4,}$/\1 .../'
status=${PIPESTATUS[0]}
set -e
trap 'on_error $LINENO "$BASH_COMMAND"' ERR
if [ "$status" != 0 ]; then
    why=$(grep -E '^(Error|error)' "$log" | tail -n 1)
    fail "buildah build failed: ${why:-$(tail -n 1 "$log")} (log: $log)"
fi
# vfs keeps a full copy per layer: drop untagged images older than an hour that this build did not
# use, unless another build is running (its cache may be among them). rmi without --force leaves
# any image a container still uses.
this_build=$(grep -oE '^--> (Using cache )?[0-9a-f]{11,}' "$log" | grep -oE '[0-9a-f]{11}' | sort -u || true)
if ! pgrep -f 'buildah .*build .*--isolation chroot' >/dev/null; then
    # buildah 1.28 leaves the container behind that `RUN --mount=...,from=uv` makes (38 MB each).
    "${buildah[@]}" containers --noheading --format '{{.ContainerID}} {{.ImageName}}' |
        while read -r id name; do
            if [ "$name" = "$uv_image" ]; then
                "${buildah[@]}" rm "$id" >/dev/null 2>&1 || true
            fi
        done || true
    old=$((EPOCHSECONDS - 3600))
    "${buildah[@]}" images --all --noheading --filter dangling=true --format '{{.ID}} {{.Created}}' |
        while read -r id created; do
            if [ "$created" -lt "$old" ] && ! grep -qx "${id:0:11}" <<<"$this_build"; then
                "${buildah[@]}" rmi "$id" >/dev/null 2>&1 || true
            fi
        done || true
fi
layers=$("${buildah[@]}" inspect --type image --format '{{.Manifest}}' "$image" |
    python3 -c 'import json, sys; print(sum(l["size"] for l in json.load(sys.stdin)["layers"]))')
step "built $image in $((SECONDS - started)) s: $layers bytes in its layers (uncompressed)"
