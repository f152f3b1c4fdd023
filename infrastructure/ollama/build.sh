#!/usr/bin/env bash
# Builds the pinned Ollama from source, CPU-only, for machines that cannot download the upstream
# release (the local topology, air-gapped sites). The source comes through the Go module proxy and
# Go's checksum database verifies it; the three header-only libraries the module zip leaves out
# come from Debian and from a pinned PyPI sdist. Prints the path of the binary.
#
#   build.sh            -> $CACHE_DIR/ollama/<key>/ollama
#
# The result is cached outside the clone, keyed on what goes into it (the version, the compiler
# flags, the Go toolchain and the pinned headers), so a second run or another clone reuses it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/../../scripts/lib.sh"

version=${OLLAMA_QA_OLLAMA_VERSION:-v0.24.0}
miniaudio_sdist=miniaudio==1.71
miniaudio_sha256=ff51e2887bb673e2e757752b586b3dc924d59aa5fbcae9bbc45f4a111bd3262b

# Built for the CPU it runs on: x86-64-v3 (AVX2, FMA) is about three times faster at inference
# than the generic build, and the local topology runs on this very CPU. Elsewhere the generic
# build is the portable choice; OLLAMA_QA_OLLAMA_CFLAGS overrides either.
if [[ -z ${OLLAMA_QA_OLLAMA_CFLAGS:-} ]]; then
  if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
    OLLAMA_QA_OLLAMA_CFLAGS="-O3 -march=x86-64-v3"
  else
    OLLAMA_QA_OLLAMA_CFLAGS="-O3"
  fi
fi
cflags=$OLLAMA_QA_OLLAMA_CFLAGS

command -v go >/dev/null || die "Go is needed to build Ollama (go.mod asks for go 1.26)"
key=$(printf '%s\n' "$version" "$cflags" "$(go version)" "$miniaudio_sha256" | sha256sum | cut -c1-16)
out=$CACHE_DIR/ollama/$version-$key
if [[ -x $out/ollama ]]; then
  echo "$out/ollama"
  exit 0
fi

# Two of the header-only libraries the module zip leaves out.
ensure_debian_packages nlohmann-json3-dev libstb-dev

work=$(mktemp -d "${TMPDIR:-/tmp}/ollama-build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

log "fetching github.com/ollama/ollama@$version through the Go module proxy"
module_dir=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/ollama/ollama@$version" |
  python3 -c 'import json, sys; d = json.load(sys.stdin); sys.exit(d["Error"]) if "Error" in d else print(d["Dir"])')
# The module cache is read-only, and the build needs the vendored headers inside the tree.
cp -r "$module_dir" "$work/src"
chmod -R u+w "$work/src"

vendor=$work/src/llama/llama.cpp/vendor
mkdir -p "$vendor/stb" "$vendor/miniaudio"
cp -r /usr/include/nlohmann "$vendor/"
cp /usr/include/stb/stb_image.h "$vendor/stb/"
python3 -m pip download -q --no-binary :all: --no-deps --dest "$work/sdist" "$miniaudio_sdist"
sdist=$(compgen -G "$work/sdist/miniaudio-*.tar.gz")
echo "$miniaudio_sha256  $sdist" | sha256sum --check --quiet ||
  die "$miniaudio_sdist does not match its pinned sha256"
tar -xzf "$sdist" -C "$work/sdist" --wildcards '*/miniaudio/miniaudio.h'
cp "$work"/sdist/miniaudio-*/miniaudio/miniaudio.h "$vendor/miniaudio/"

log "building Ollama $version ($cflags); this takes about 10 minutes on 2 cores"
(
  cd "$work/src"
  CGO_ENABLED=1 CGO_CFLAGS="$cflags" CGO_CXXFLAGS="$cflags" \
    go build -trimpath -o "$work/ollama" \
    -ldflags "-s -w -X github.com/ollama/ollama/version.Version=${version#v}" .
)
mkdir -p "$out"
mv "$work/ollama" "$out/ollama.partial"
mv "$out/ollama.partial" "$out/ollama"
echo "$out/ollama"
