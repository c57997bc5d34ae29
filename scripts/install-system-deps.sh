#!/usr/bin/env bash
# Install the Debian packages that some tests use: chromium (the report renders in a real
# browser), slurm-wlm + munge (the cluster profile runs on a real one-node SLURM) and g++
# (compiled training).
# Needs root and apt-get; anywhere else it says so and does nothing (those tests then skip).
#
# Under CI (CI=true) and under `make test` as root (REQUIRE_SYSTEM_TESTS=1, set by the Makefile)
# those tests must run, not skip: when the packages are missing and cannot be installed here,
# this script fails (exit 1), and tests/conftest.py turns a skip of a test marked `slurm` or
# `browser` into a failure.
set -u
# g++: torch.compile's CPU backend builds C++ (train.compile: true; tests/unit/training/test_compile.py)
packages=(chromium slurm-wlm munge g++)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

case "$(printf %s "${CI:-}" | tr '[:upper:]' '[:lower:]')" in
  true | 1 | yes) ci=1 why="under CI (CI=$CI)" ;;
  *) ci=0 ;;
esac
if [ "$ci" = 0 ] && [ "${REQUIRE_SYSTEM_TESTS:-0}" = 1 ]; then
  ci=1 why="with REQUIRE_SYSTEM_TESTS=1 (make test as root)"
fi

# Cannot install: under CI that fails the run, elsewhere the tests needing them skip.
give_up() {
  if [ "$ci" = 1 ]; then
    echo "install-system-deps: $1; $why the tests needing ${missing[*]} must run" >&2
    exit 1
  fi
  echo "install-system-deps: $1; tests needing ${missing[*]} will be skipped" >&2
  exit 0
}

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  give_up "not root or no apt-get"
fi
export DEBIAN_FRONTEND=noninteractive
# Other installs may hold the dpkg lock for a while: wait for it rather than fail.
apt=(apt-get -o DPkg::Lock::Timeout=600 -qq)
if ! { "${apt[@]}" update >/dev/null && "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null; }; then
  give_up "could not install ${missing[*]}"
fi
# A package that installed without the command the tests look for is as good as missing.
for command in chromium slurmctld slurmd munged; do
  command -v "$command" >/dev/null || give_up "installed, but \`$command\` is not on PATH"
done
exit 0
