#!/usr/bin/env bash
# Install the Debian packages that some tests use: chromium (the report renders in a real
# browser) and slurm-wlm + munge (the cluster profile runs on a real one-node SLURM).
# Needs root and apt-get; anywhere else it says so and does nothing (those tests then skip).
set -u
packages=(chromium slurm-wlm munge)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-system-deps: not root or no apt-get; tests needing ${missing[*]} will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
  || echo "install-system-deps: could not install ${missing[*]}; tests needing them will be skipped" >&2
exit 0
