# Stand-in for OpenWrt's keepalived package (see README.md). STANDIN_SERIES=24.10|25.12 selects
# the release; KEEPALIVED_BINARY is the keepalived program to ship.
include $(TOPDIR)/rules.mk

PKG_NAME:=keepalived
ifeq ($(STANDIN_SERIES),24.10)
PKG_VERSION:=2.3.1
PKG_RELEASE:=1
else
PKG_VERSION:=2.3.3
PKG_RELEASE:=2
endif

include $(INCLUDE_DIR)/package.mk

define Package/keepalived
  SECTION:=net
  CATEGORY:=Network
  TITLE:=keepalived (stand-in for OpenWrt $(STANDIN_SERIES)'s package)
endef

define Package/keepalived/conffiles
/etc/keepalived/keepalived.conf
/etc/config/keepalived
/etc/keepalived.user
endef

define Build/Compile
endef

define Package/keepalived/install
	$(INSTALL_DIR) $(1)/usr/sbin $(1)/etc/keepalived $(1)/etc/uci-defaults $(1)/etc/init.d $(1)/etc/config
	$(INSTALL_BIN) $(KEEPALIVED_BINARY) $(1)/usr/sbin/keepalived
	$(INSTALL_CONF) ./files/keepalived.conf $(1)/etc/keepalived/keepalived.conf
	$(INSTALL_BIN) ./files/uci-defaults $(1)/etc/uci-defaults/keepalived
	$(INSTALL_BIN) ./files/$(STANDIN_SERIES)/keepalived.init $(1)/etc/init.d/keepalived
	$(INSTALL_CONF) ./files/$(STANDIN_SERIES)/keepalived.config $(1)/etc/config/keepalived
	$(INSTALL_CONF) ./files/keepalived.user $(1)/etc/keepalived.user
endef

$(eval $(call BuildPackage,keepalived))
