# Developer entry points. Run as root on Debian/Ubuntu: each target installs what it needs.
PYTHON ?= python3
export PYTHONPATH := $(CURDIR)/src:$(CURDIR)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: test demo bench soak deps unit lab package

deps:
	@tests/support/install-deps.sh

test: deps
	$(PYTHON) -m pytest -q -p no:cacheprovider tests

# without root and without daemons
unit: deps
	$(PYTHON) -m pytest -q -p no:cacheprovider tests/unit

# as root: the real daemons in network namespaces (tests/system), then the two-router lab
lab: deps
	$(PYTHON) -m pytest -q -p no:cacheprovider tests/system tests/lab

demo: deps
	$(PYTHON) -m tests.demo

bench: deps
	$(PYTHON) -m tests.bench

# false failovers under load, long enough to tell 0 from a few per hour (an hour; into build/bench.json)
soak: deps
	$(PYTHON) -m tests.bench --only soak

# ha-pair and luci-app-ha as .ipk (OpenWrt 24.10) and .apk (25.12) in build/packages/
package: deps
	$(PYTHON) -m tests.package.build
