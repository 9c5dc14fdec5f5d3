#!/bin/sh
# Install what `make test`, `make demo` and `make bench` need, only when it is missing.
# Debian/Ubuntu, as root. Services of the installed packages are not started (policy-rc.d),
# so nothing runs outside the lab's own network namespaces.
set -eu
# One group per line, so that additions merge cleanly.
# the daemons the lab routers run (OpenSSH too: trust-peer and lease sync with either SSH client,
# tests/ssh; its sshd runs only inside a test namespace); GNU time measures peak memory
APT_PACKAGES="keepalived conntrackd conntrack dnsmasq dropbear-bin openssh-client openssh-server udhcpc nftables"
APT_PACKAGES="$APT_PACKAGES iproute2 iputils-ping time busybox"
# the WireGuard tunnel through the pair's NAT (tests/lab/wireguard.py): userspace, this kernel may lack the module
APT_PACKAGES="$APT_PACKAGES wireguard-go wireguard-tools"
# make bench: the load kinds of its false-failover part (tests/bench/load.py)
APT_PACKAGES="$APT_PACKAGES stress-ng"
# what builds OpenWrt's own components (tests/vendor)
APT_PACKAGES="$APT_PACKAGES build-essential cmake pkg-config libjson-c-dev"
# package tests: what an OpenWrt buildroot checks for (gawk ... fakeroot), apk-tools (meson, ninja,
# openssl, zlib, lua5.1 for its help)
APT_PACKAGES="$APT_PACKAGES gawk git rsync unzip wget file python3-distutils libncurses-dev fakeroot"
APT_PACKAGES="$APT_PACKAGES meson ninja-build libssl-dev zlib1g-dev lua5.1 openssl"
# Debian's Chromium for the LuCI page tests (about 390 MB installed; no browser is downloaded)
APT_PACKAGES="$APT_PACKAGES util-linux chromium"
# playwright: the Python client that drives the system's Chromium (a 53 MB wheel with its driver;
# `playwright install` is never run)
PIP_MODULES="pytest hypothesis playwright"

missing=""
for pkg in $APT_PACKAGES; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: need root to install:$missing" >&2
		exit 1
	fi
	echo "install-deps: apt-get install$missing"
	policy=/usr/sbin/policy-rc.d
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy"
		trap 'rm -f "$policy"' EXIT
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

for module in $PIP_MODULES; do
	if ! python3 -c "import $module" 2>/dev/null; then
		echo "install-deps: pip install $module"
		python3 -m pip install -q "$module" 2>/dev/null || python3 -m pip install -q --break-system-packages "$module"
	fi
done
