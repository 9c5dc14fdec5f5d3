# Stand-in for OpenWrt's conntrackd package (net/conntrack-tools; see README.md).
# CONNTRACKD_BINARY is the conntrackd program to ship.
include $(TOPDIR)/rules.mk

PKG_NAME:=conntrackd
PKG_VERSION:=1.4.8
PKG_RELEASE:=1

include $(INCLUDE_DIR)/package.mk

define Package/conntrackd
  SECTION:=net
  CATEGORY:=Network
  TITLE:=conntrackd (stand-in for OpenWrt's package)
endef

define Package/conntrackd/conffiles
/etc/conntrackd/
endef

define Build/Compile
endef

define Package/conntrackd/install
	$(INSTALL_DIR) $(1)/etc/conntrackd $(1)/etc/init.d $(1)/usr/sbin
	$(INSTALL_BIN) $(CONNTRACKD_BINARY) $(1)/usr/sbin/conntrackd
	$(INSTALL_BIN) ./files/conntrackd.init $(1)/etc/init.d/conntrackd
endef

$(eval $(call BuildPackage,conntrackd))
