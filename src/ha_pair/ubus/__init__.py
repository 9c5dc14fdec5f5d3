"""ubus access for the ha-pair agent: ctypes binding to OpenWrt's libubus.

See :mod:`ha_pair.ubus.libubus` for the details (layout, argument policy,
replies, threading). Libraries are searched in ``$HA_PAIR_UBUS_LIBDIR`` when
set, otherwise in the default locations (``/lib/libubus.so`` and friends).
"""

from .libubus import (
    UBUS_STATUS_INVALID_ARGUMENT,
    UBUS_STATUS_NOT_FOUND,
    UBUS_STATUS_OK,
    UBUS_STATUS_UNKNOWN_ERROR,
    UbusConnection,
    UbusError,
    UbusUnavailable,
)

__all__ = [
    "UBUS_STATUS_INVALID_ARGUMENT",
    "UBUS_STATUS_NOT_FOUND",
    "UBUS_STATUS_OK",
    "UBUS_STATUS_UNKNOWN_ERROR",
    "UbusConnection",
    "UbusError",
    "UbusUnavailable",
]
