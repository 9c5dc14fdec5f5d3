# What ha-pair and luci-app-ha share: version, release, maintainer, project address, licence.
# Included by openwrt-feed/ha-pair/Makefile and luci-app-ha/Makefile with HA_PAIR_REPO set to the
# repository root: the feed is the repository, so one feeds.conf line finds both packages.

# the one version of the project is ha_pair.__version__ (the agent reports it too)
HA_PAIR_VERSION:=$(shell sed -n 's/^__version__ = "\([0-9][0-9.]*\)"$$/\1/p' $(HA_PAIR_REPO)/src/ha_pair/__init__.py)
# bump for a new build of the same version: opkg and apk upgrade only to a higher version-release
HA_PAIR_RELEASE:=1
HA_PAIR_LICENSE:=GPL-2.0-only
HA_PAIR_LICENSE_FILES:=LICENSE
# who answers for the packages, and where the project lives (the packages' URL field)
HA_PAIR_MAINTAINER:=ha-pair maintainers <maintainers@users.noreply.h-seed-dd2537f7.example>
HA_PAIR_URL:=
