#!/usr/bin/env bash
# Builds a genuine upstream kube-apiserver (v1.20.2) from Debian's `kubernetes` source package and
# installs Debian's etcd, for the real-API-server test tier (see docs/testing.md and
# ../shared/notes/real-kube-apiserver.md). Run as root on Debian 12.
#
# The binary is cached outside the clone, keyed by the Debian source version
# (${SERINUS_CACHE:-~/.cache/serinus}/kube-apiserver-<version>), so a second run is instant; the
# clone gets a symlink .tools/kube-apiserver/kube-apiserver to it. The Go build cache lives in the
# same cache folder. Prints progress lines prefixed "serinus kube-apiserver:"; fails loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
clone=$(pwd)

say() { echo "serinus kube-apiserver: $*"; }
die() { echo "serinus kube-apiserver: error: $*" >&2; exit 1; }

cache="${SERINUS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/serinus}"
# The version checked to build (bookworm-security, May 2025); override to build another one.
version="${SERINUS_KUBE_SRC_VERSION:-1.20.5+really1.20.2-1.1+deb12u1}"
git_version="v1.20.2"

link_into_clone() {
  mkdir -p "$clone/.tools/kube-apiserver"
  ln -sfn "$1" "$clone/.tools/kube-apiserver/kube-apiserver"
  say "ready: $1 (linked at .tools/kube-apiserver/kube-apiserver)"
}

packages=(etcd-server etcd-client golang-1.19-go dpkg-dev golang-github-modern-go-reflect2-dev
  golang-github-json-iterator-go-dev ca-certificates)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
# etcd-server starts a system etcd on the default ports; tests run their own on free ports.
stop_system_etcd() {
  systemctl disable --now etcd >/dev/null 2>&1 || service etcd stop >/dev/null 2>&1 || true
}

binary="$cache/kube-apiserver-$version"
if [[ -x "$binary" && ${#missing[@]} -eq 0 ]]; then
  link_into_clone "$binary"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
sources=/etc/apt/sources.list.d/serinus-deb-src.sources
if [[ ! -f "$sources" ]]; then
  say "adding deb-src entries for bookworm ($sources)"
  cat >"$sources" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
fi
say "apt-get update"
apt-get update -qq || die "apt-get update failed"
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi
stop_system_etcd
command -v etcd >/dev/null || die "etcd is not on PATH after installing etcd-server"

if [[ -z "${SERINUS_KUBE_SRC_VERSION:-}" ]] \
  && ! apt-cache showsrc kubernetes 2>/dev/null | grep -qx "Version: $version"; then
  newest=$(apt-cache showsrc kubernetes 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -1)
  [[ -n "$newest" ]] || die "no kubernetes source package is available from apt"
  say "source $version is gone from the archive; using $newest"
  version="$newest"
  binary="$cache/kube-apiserver-$version"
fi
if [[ -x "$binary" ]]; then
  link_into_clone "$binary"
  exit 0
fi

build="$cache/build-$version"
rm -rf "$build"
mkdir -p "$build/download"
say "fetching the kubernetes $version source package (34 MB)"
(cd "$build/download" && apt-get source -qq --download-only "kubernetes=$version" >/dev/null) \
  || die "apt-get source kubernetes=$version failed"
say "unpacking"
dpkg-source -q -x "$build"/download/kubernetes_*.dsc "$build/kubernetes" >/dev/null \
  || die "dpkg-source -x failed"
tree="$build/kubernetes"
[[ -d "$tree/cmd/kube-apiserver" && -d "$tree/vendor" ]] \
  || die "the source package has no cmd/kube-apiserver or vendor/"

# The vendored reflect2 1.0.1 crashes with Go >= 1.18; Debian's copies (and the json-iterator
# built against them) work.
say "replacing vendored reflect2 and json-iterator with Debian's copies"
for module in github.com/modern-go/reflect2 github.com/json-iterator/go; do
  [[ -d "/usr/share/gocode/src/$module" ]] || die "/usr/share/gocode/src/$module is missing"
  rm -rf "${tree:?}/vendor/$module"
  cp -r "/usr/share/gocode/src/$module" "$tree/vendor/$module"
  find "$tree/vendor/$module" -name '*_test.go' -delete
done

# GOPATH mode, as upstream 1.20's own scripts build (module mode wants go.mod updates).
export GOPATH="$build/gopath"
mkdir -p "$GOPATH/src/k8s.io"
ln -sfn "$tree" "$GOPATH/src/k8s.io/kubernetes"
export PATH="/usr/lib/go-1.19/bin:$PATH"
export GO111MODULE=off GOPROXY=off GOFLAGS= CGO_ENABLED=0
export GOCACHE="$cache/go-build"
mkdir -p "$GOCACHE"
cd "$GOPATH/src/k8s.io/kubernetes"

say "building openapi-gen"
go build -o "$build/openapi-gen" k8s.io/kubernetes/vendor/k8s.io/kube-openapi/cmd/openapi-gen \
  || die "building openapi-gen failed"
# Every package tagged for OpenAPI, staging paths seen through vendor/ (as upstream's Makefile).
input_dirs=$(grep -rl --include='*.go' -e '+k8s:openapi-gen=' pkg staging/src \
  | xargs -n1 dirname | sort -u \
  | grep -v -e '^staging/src/k8s.io/code-generator' -e '^staging/src/k8s.io/sample-apiserver' \
  | sed -e 's|^staging/src/|k8s.io/kubernetes/vendor/|' -e 's|^pkg/|k8s.io/kubernetes/pkg/|' \
  | paste -sd, -)
[[ -n "$input_dirs" ]] || die "found no package tagged +k8s:openapi-gen="
say "generating pkg/generated/openapi ($(tr ',' '\n' <<<"$input_dirs" | wc -l) packages)"
"$build/openapi-gen" --input-dirs "$input_dirs" \
  --output-base "$GOPATH/src" \
  --output-package k8s.io/kubernetes/pkg/generated/openapi \
  --output-file-base zz_generated.openapi \
  --go-header-file vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
  --report-filename "$build/openapi-violations.txt" >/dev/null \
  || die "openapi-gen failed"
[[ -s pkg/generated/openapi/zz_generated.openapi.go ]] || die "openapi-gen wrote nothing"

say "building kube-apiserver $git_version (about 5 min on 2 cores)"
version_pkg=k8s.io/kubernetes/vendor/k8s.io/component-base/version
ldflags="-s -w -X $version_pkg.gitVersion=$git_version -X $version_pkg.gitMajor=1"
ldflags+=" -X $version_pkg.gitMinor=20 -X $version_pkg.gitTreeState=clean"
ldflags+=" -X $version_pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
go build -o "$build/kube-apiserver" -ldflags "$ldflags" k8s.io/kubernetes/cmd/kube-apiserver \
  || die "building kube-apiserver failed"
"$build/kube-apiserver" --version | grep -q "$git_version" \
  || die "the built kube-apiserver does not report $git_version"

mv "$build/kube-apiserver" "$binary.tmp" && mv "$binary.tmp" "$binary"
cd "$clone"
rm -rf "$build"
link_into_clone "$binary"
