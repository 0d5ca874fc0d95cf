#!/usr/bin/env bash
# Installs what the tests need on a Debian machine: Apache ZooKeeper 3.8 (the reference server
# of the differential tests, and its zkCli.sh), kazoo (a third-party Python client), pytest,
# Prometheus for `promtool check metrics` on the /metrics output, and valgrind for the smoke of
# bench/profile.
# Idempotent: skips apt when everything is already there. Extra Debian packages named as
# arguments are installed too (bench/compare adds a JDK for `jcmd` when it is missing).
set -euo pipefail

packages=(zookeeper zookeeper-bin python3-kazoo python3-pytest prometheus valgrind "$@")
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # zookeeperd is deliberately not installed: it starts a system service on 0.0.0.0:2181.
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # The tests need only promtool; Debian's package also enables a Prometheus server on
    # 0.0.0.0:9090 where systemd runs. Stop it and keep it off.
    if command -v systemctl >/dev/null && systemctl is-enabled prometheus >/dev/null 2>&1; then
        $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
fi
command -v java >/dev/null || { echo "java is missing after install" >&2; exit 1; }
command -v promtool >/dev/null || { echo "promtool is missing after install" >&2; exit 1; }
command -v callgrind_control >/dev/null || { echo "valgrind is missing after install" >&2; exit 1; }
/usr/bin/python3 -c "import kazoo, pytest" || { echo "kazoo/pytest missing for /usr/bin/python3" >&2; exit 1; }
