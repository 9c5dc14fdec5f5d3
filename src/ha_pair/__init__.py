"""ha-pair: two OpenWrt routers as an active/backup pair, from one UCI file."""

__version__ = "0.1.0"
