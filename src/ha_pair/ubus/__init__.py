"""ubus access for the ha-pair agent: ctypes binding to OpenWrt's libubus.

See :mod:`ha_pair.ubus.libubus` for the details (layout, argument policy,
replies, threading). Libraries are searched in ``$HA_PAIR_UBUS_LIBDIR`` when
set, otherwise in the default locations (``/lib/libubus.so`` and friends).
"""

from .libubus import UbusConnection, UbusError, UbusUnavailable

__all__ = ["UbusConnection", "UbusError", "UbusUnavailable"]
