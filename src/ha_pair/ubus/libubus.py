"""ctypes binding to OpenWrt's libubus / libubox / libblobmsg_json.

The agent registers its ubus object itself, without a compiled extension and
without uloop: :class:`UbusConnection` exposes the ubus socket through
``fileno()`` so the agent's own ``selectors`` loop can wait on it, and calls
:meth:`UbusConnection.handle_readable` when it is readable.

Layout rules
------------
Every structure below mirrors a C declaration field by field, in header order,
with ctypes types only (no hard-coded offsets or sizes), so ctypes computes the
same padding/alignment as the C compiler on any ABI (64-bit x86/ARM, 32-bit
MIPS/ARM). Only the structures the binding touches are declared.

Inline functions
----------------
These are ``static inline`` in the headers, hence not exported, and are
re-implemented here:

* ``ubus_handle_event(ctx)`` is ``ctx->sock.cb(&ctx->sock, ULOOP_READ)``:
  we read the ``sock`` member of ``struct ubus_context`` and call its ``cb``.
* ``blobmsg_format_json(attr, list)`` is
  ``blobmsg_format_json_with_cb(attr, list, NULL, NULL, -1)``.
* ``ubus_add_uloop`` is not used at all (we do not run uloop).

Argument policy
---------------
A method may have a policy (argument name -> type name in ``POLICY_TYPES``);
without one it is registered with ``n_policy = 0``. libubus does not validate
arguments against a policy (it only publishes it as the signature in
``ubus -v list``), so every method accepts any JSON object and handlers check
what they get. The handler gets the whole argument object as a ``dict``,
including keys added by intermediaries such as rpcd's ``ubus_rpc_session``;
handlers must ignore keys they do not know.

Replies
-------
The handler's ``dict`` is serialised with :func:`json.dumps` and turned into
blobmsg by ``blobmsg_add_json_from_string`` (json-c), then sent with
``ubus_send_reply``; the method returns ``UBUS_STATUS_OK``. Integers that fit
in int32 become ``INT32``, larger ones ``INT64``; ``bool`` becomes ``BOOL``;
``float`` becomes ``DOUBLE`` (NaN/Infinity are refused); ``None`` becomes
``null``. A handler exception is logged and answered with
``UBUS_STATUS_UNKNOWN_ERROR`` (or the status of a raised :class:`UbusError`);
it never propagates into C.

Threading
---------
libubus is not thread-safe. Every call into C made by a connection is
serialised by a per-connection re-entrant lock, so ``send_event`` may be called
from another thread than the one running ``handle_readable``; handlers run in
the thread that called ``handle_readable`` (or ``send_event``/``add_object``,
which may process queued incoming calls before returning).

Signals
-------
``ubus_connect`` calls ``uloop_init()``, which installs C handlers for SIGTERM
(and SIGINT/SIGCHLD) when they are at their default disposition: a SIGTERM
would then only set a uloop flag instead of ending the process. The
connection therefore disables uloop's SIGCHLD handling and, when created in
the main thread, restores the Python-level dispositions it saw before the
connect.
"""

from __future__ import annotations

import ctypes
import os
import _signal  # not signal.py: see spawn.py
from _weakref import ref as weak_ref  # weakref.ref itself, without weakref.py (~80 kB in the agent)
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_byte,
    c_char_p,
    c_int,
    c_uint,
    c_uint8,
    c_uint16,
    c_uint32,
    c_ulong,
    c_void_p,
)

from .. import jsonsafe, leanjson, leanthreads, log

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: see README, Architecture
if TYPE_CHECKING:
    from typing import Any, Callable

    Handler = Callable[[dict], dict]  # a ubus method: its arguments in, its reply out


LIBDIR_ENV = "HA_PAIR_UBUS_LIBDIR"

# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------

# libubox/uloop.h
ULOOP_READ = 1 << 0

# ubusmsg.h: enum ubus_msg_status (the codes this binding answers with)
# libubox/blobmsg.h: enum blobmsg_type (BOOL is INT8)
POLICY_TYPES = {"table": 2, "string": 3, "int64": 4, "int32": 5, "bool": 7, "double": 8}

UBUS_STATUS_OK = 0
UBUS_STATUS_INVALID_ARGUMENT = 2
UBUS_STATUS_METHOD_NOT_FOUND = 3
UBUS_STATUS_NOT_FOUND = 4
UBUS_STATUS_UNKNOWN_ERROR = 9

# ---------------------------------------------------------------------------
# Structures
# ---------------------------------------------------------------------------


# libubox/list.h
class ListHead(Structure):
    pass


ListHead._fields_ = [
    ("next", POINTER(ListHead)),
    ("prev", POINTER(ListHead)),
]


# libubox/avl.h
class AvlNode(Structure):
    pass


AvlNode._fields_ = [
    ("list", ListHead),
    ("parent", POINTER(AvlNode)),
    ("left", POINTER(AvlNode)),
    ("right", POINTER(AvlNode)),
    ("key", c_void_p),
    ("balance", c_byte),  # signed char
    ("leader", c_bool),
]

# libubox/avl.h: typedef int (*avl_tree_comp)(const void *, const void *, void *)
AVL_TREE_COMP = CFUNCTYPE(c_int, c_void_p, c_void_p, c_void_p)


# libubox/avl.h
class AvlTree(Structure):
    _fields_ = [
        ("list_head", ListHead),
        ("root", POINTER(AvlNode)),
        ("count", c_uint),
        ("allow_dups", c_bool),
        ("comp", AVL_TREE_COMP),
        ("cmp_ptr", c_void_p),
    ]


# libubox/uloop.h
class UloopFd(Structure):
    pass


# libubox/uloop.h: typedef void (*uloop_fd_handler)(struct uloop_fd *u, unsigned int events)
ULOOP_FD_HANDLER = CFUNCTYPE(None, POINTER(UloopFd), c_uint)

UloopFd._fields_ = [
    ("cb", ULOOP_FD_HANDLER),
    ("fd", c_int),
    ("eof", c_bool),
    ("error", c_bool),
    ("registered", c_bool),
    ("flags", c_uint8),
]


# libubox/blob.h: struct blob_attr { uint32_t id_len; char data[]; } __packed;
# Only ever used through pointers (the flexible payload follows id_len).
class BlobAttr(Structure):
    _pack_ = 1
    _fields_ = [("id_len", c_uint32)]


# libubox/blob.h
class BlobBuf(Structure):
    pass


# libubox/blob.h: bool (*grow)(struct blob_buf *buf, int minlen)
BLOB_BUF_GROW = CFUNCTYPE(c_bool, POINTER(BlobBuf), c_int)

BlobBuf._fields_ = [
    ("head", POINTER(BlobAttr)),
    ("grow", BLOB_BUF_GROW),
    ("buflen", c_int),
    ("buf", c_void_p),
]


# libubox/blobmsg.h (pointee of ubus_method.policy)
class BlobmsgPolicy(Structure):
    _fields_ = [
        ("name", c_char_p),
        ("type", c_int),  # enum blobmsg_type
    ]


# libubus.h: struct ubus_acl_key
class UbusAclKey(Structure):
    _fields_ = [
        ("user", c_char_p),
        ("group", c_char_p),
        ("object", c_char_p),
    ]


# libubus.h: struct ubus_request_data. Allocated by libubus on its stack and
# only handed back to ubus_send_reply(); declared for typing/documentation.
class UbusRequestData(Structure):
    _fields_ = [
        ("object", c_uint32),
        ("peer", c_uint32),
        ("seq", c_uint16),
        ("acl", UbusAclKey),
        ("deferred", c_bool),
        ("fd", c_int),
        ("req_fd", c_int),
    ]


class UbusObject(Structure):
    pass


# libubus.h: typedef int (*ubus_handler_t)(struct ubus_context *ctx,
#     struct ubus_object *obj, struct ubus_request_data *req,
#     const char *method, struct blob_attr *msg)
UBUS_HANDLER_T = CFUNCTYPE(
    c_int, c_void_p, POINTER(UbusObject), POINTER(UbusRequestData), c_char_p, POINTER(BlobAttr)
)
# libubus.h: typedef void (*ubus_state_handler_t)(struct ubus_context *ctx, struct ubus_object *obj)
UBUS_STATE_HANDLER_T = CFUNCTYPE(None, c_void_p, POINTER(UbusObject))


# libubus.h
class UbusMethod(Structure):
    _fields_ = [
        ("name", c_char_p),
        ("handler", UBUS_HANDLER_T),
        ("mask", c_ulong),
        ("tags", c_ulong),
        ("policy", POINTER(BlobmsgPolicy)),
        ("n_policy", c_int),
    ]


# libubus.h
class UbusObjectType(Structure):
    _fields_ = [
        ("name", c_char_p),
        ("id", c_uint32),
        ("methods", POINTER(UbusMethod)),
        ("n_methods", c_int),
    ]


# libubus.h
UbusObject._fields_ = [
    ("avl", AvlNode),
    ("name", c_char_p),
    ("id", c_uint32),
    ("path", c_char_p),
    ("type", POINTER(UbusObjectType)),
    ("subscribe_cb", UBUS_STATE_HANDLER_T),
    ("has_subscribers", c_bool),
    ("methods", POINTER(UbusMethod)),
    ("n_methods", c_int),
]


# libubus.h: struct ubus_context -- LEADING MEMBERS ONLY, up to and including
# `sock`. The context is allocated by ubus_connect() (never by Python) and the
# binding only reads `sock` (fd, eof, cb). The next member, `pending_timer`
# (struct uloop_timeout), embeds a struct timeval whose size depends on the
# libc's time_t (64-bit on musl >= 1.2 even on 32-bit targets), which ctypes
# cannot name portably on Python 3.11; stopping before it keeps the layout
# exact everywhere.
class UbusContextHead(Structure):
    _fields_ = [
        ("requests", ListHead),
        ("objects", AvlTree),
        ("pending", ListHead),
        ("sock", UloopFd),
    ]


STRUCTS: dict[str, type[Structure]] = {
    "list_head": ListHead,
    "avl_node": AvlNode,
    "avl_tree": AvlTree,
    "uloop_fd": UloopFd,
    "blob_attr": BlobAttr,
    "blob_buf": BlobBuf,
    "blobmsg_policy": BlobmsgPolicy,
    "ubus_acl_key": UbusAclKey,
    "ubus_request_data": UbusRequestData,
    "ubus_method": UbusMethod,
    "ubus_object_type": UbusObjectType,
    "ubus_object": UbusObject,
}
"""C struct name -> ctypes class, for layout checks against the C headers."""

# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class UbusUnavailable(Exception):
    """libubus cannot be loaded, ubusd cannot be reached, or the connection is lost."""


class UbusError(Exception):
    """A ubus call failed with a ubus status; handlers may raise it to answer with `status`."""

    def __init__(self, status: int, message: str = "") -> None:
        self.status = int(status)
        super().__init__(message or f"ubus status {self.status}")


# ---------------------------------------------------------------------------
# Library loading
# ---------------------------------------------------------------------------


class _Libs:
    """The three shared libraries, with prototypes of the functions used."""

    def __init__(self, root: str = "/") -> None:
        override = os.environ.get(LIBDIR_ENV)
        # Order matters: libubus and libblobmsg_json depend on libubox (matched
        # by soname once loaded), so load it first.
        self.ubox = _load("ubox", override, ctypes.RTLD_GLOBAL, root)
        self.blobmsg_json = _load("blobmsg_json", override, ctypes.RTLD_GLOBAL, root)
        self.ubus = _load("ubus", override, ctypes.RTLD_GLOBAL, root)
        self.libc = ctypes.CDLL(None)

        def proto(lib: ctypes.CDLL, name: str, restype: Any, *argtypes: Any) -> None:
            try:
                fn = getattr(lib, name)
            except AttributeError as exc:
                raise UbusUnavailable(f"{lib._name}: missing symbol {name}") from exc
            fn.restype = restype
            fn.argtypes = list(argtypes)

        u, b, j = self.ubus, self.ubox, self.blobmsg_json
        proto(u, "ubus_connect", c_void_p, c_char_p)
        proto(u, "ubus_free", None, c_void_p)
        proto(u, "ubus_add_object", c_int, c_void_p, POINTER(UbusObject))
        proto(u, "ubus_send_reply", c_int, c_void_p, POINTER(UbusRequestData), POINTER(BlobAttr))
        proto(u, "ubus_send_event", c_int, c_void_p, c_char_p, POINTER(BlobAttr))
        proto(u, "ubus_strerror", c_char_p, c_int)
        proto(b, "blob_buf_init", c_int, POINTER(BlobBuf), c_int)
        proto(b, "blob_buf_free", None, POINTER(BlobBuf))
        proto(j, "blobmsg_add_json_from_string", c_bool, POINTER(BlobBuf), c_char_p)
        # char *blobmsg_format_json_with_cb(struct blob_attr *attr, bool list,
        #     blobmsg_json_format_t cb, void *priv, int indent); result is malloc'ed
        proto(j, "blobmsg_format_json_with_cb", c_void_p, POINTER(BlobAttr), c_bool, c_void_p, c_void_p, c_int)
        proto(self.libc, "free", None, c_void_p)

    def strerror(self, status: int) -> str:
        return (self.ubus.ubus_strerror(status) or b"?").decode(errors="replace")


def _versioned(directory: str, name: str) -> list[str]:
    """`name.*` in directory, newest-looking first (os.listdir: glob and ctypes.util would load
    fnmatch, tempfile, shutil and random into the long-running agent)."""
    try:
        entries = os.listdir(directory)
    except OSError:
        return []
    return [os.path.join(directory, e) for e in sorted(entries, reverse=True) if e.startswith(name + ".")]


def _candidates(short: str, override: str | None, root: str = "/") -> list[str]:
    """Paths/names to try for lib<short>.so, most specific first. Under another root (the
    lab's routers: `ha-pair --root DIR`) the router's own /lib and /usr/lib come first."""
    name = f"lib{short}.so"
    if override:
        # Only the override directory: tests must not pick up another copy.
        return [os.path.join(override, name)] + _versioned(override, name)
    out = []
    if root != "/":
        for d in ("lib", "usr/lib"):
            out.append(os.path.join(root, d, name))
            out.extend(_versioned(os.path.join(root, d), name))
    out.append(name)  # the dynamic loader's own search path
    # OpenWrt installs /lib/libubus.so (older) or only /lib/libubus.so.<ABI> (newer).
    for d in ("/lib", "/usr/lib"):
        out.append(os.path.join(d, name))
        out.extend(_versioned(d, name))
    return out


def _load(short: str, override: str | None, mode: int, root: str = "/") -> ctypes.CDLL:
    errors = []
    for cand in _candidates(short, override, root):
        try:
            return ctypes.CDLL(cand, mode=mode)
        except OSError as exc:
            errors.append(f"{cand}: {exc}")
    where = f"{LIBDIR_ENV}={override}" if override else "default locations"
    raise UbusUnavailable(f"cannot load lib{short}.so ({where}): " + "; ".join(errors[:3]))


_libs: _Libs | None = None
_libs_lock = leanthreads.Lock()


def load_libs(root: str = "/") -> _Libs:
    """Load (once per process) and return the libraries; raises UbusUnavailable. `root`: the
    router's / (the first call's counts)."""
    global _libs
    with _libs_lock:
        if _libs is None:
            _libs = _Libs(root)
        return _libs


# ---------------------------------------------------------------------------
# Connection
# ---------------------------------------------------------------------------

_WATCHED_SIGNALS = ("SIGTERM", "SIGINT", "SIGCHLD", "SIGPIPE")


class _BlobBuf:
    """A blob_buf owned by Python (freed with blob_buf_free)."""

    def __init__(self, libs: _Libs) -> None:
        self._libs = libs
        self.buf = BlobBuf()

    def from_dict(self, data: dict) -> POINTER(BlobAttr):
        if not isinstance(data, dict):
            raise TypeError(f"expected a dict, got {type(data).__name__}")
        text = leanjson.dumps(data, ensure_ascii=False, allow_nan=False)
        self._libs.ubox.blob_buf_init(ctypes.byref(self.buf), 0)
        if not self._libs.blobmsg_json.blobmsg_add_json_from_string(
            ctypes.byref(self.buf), text.encode("utf-8")
        ):
            raise ValueError("blobmsg_add_json_from_string failed")
        return self.buf.head

    def free(self) -> None:
        if self.buf.buf:
            self._libs.ubox.blob_buf_free(ctypes.byref(self.buf))
        self.buf = BlobBuf()


class UbusConnection:
    """One connection to ubusd, driven by the caller's event loop (no uloop).

    Usage::

        conn = UbusConnection()                # or UbusConnection("/tmp/x.sock")
        conn.add_object("ha", {"status": lambda args: {...}})
        sel.register(conn.fileno(), selectors.EVENT_READ)
        ...  # when readable: conn.handle_readable()
        conn.close()

    Everything passed to C (objects, method tables, callbacks, names) is kept
    referenced by this instance until :meth:`close`.
    """

    def __init__(self, socket_path: str | None = None) -> None:
        self._libs = load_libs()
        self._lock = leanthreads.RLock()
        self._ctx: int | None = None
        self._keep: list[Any] = []  # everything C holds pointers to
        self._deferred_exc: BaseException | None = None
        self._dispatch_owner: int | None = None  # thread running a handler
        self._reply = _BlobBuf(self._libs)
        self._event = _BlobBuf(self._libs)

        saved = self._save_signals()
        try:
            c_bool.in_dll(self._libs.ubox, "uloop_handle_sigchld").value = False
        except ValueError:  # older libubox without the knob
            pass
        path = socket_path.encode() if socket_path else None
        ctx = self._libs.ubus.ubus_connect(path)
        self._restore_signals(saved)
        if not ctx:
            raise UbusUnavailable(
                f"cannot connect to ubusd at {socket_path or 'the default socket'}"
            )
        self._ctx = ctx
        self._head = ctypes.cast(ctx, POINTER(UbusContextHead)).contents

    # -- signals ----------------------------------------------------------
    @staticmethod
    def _save_signals() -> dict[int, Any] | None:
        if leanthreads.get_ident() != leanthreads.MAIN:
            return None
        saved = {}
        for name in _WATCHED_SIGNALS:
            signum = getattr(_signal, name, None)
            if signum is not None:
                saved[signum] = _signal.getsignal(signum)
        return saved

    @staticmethod
    def _restore_signals(saved: dict[int, Any] | None) -> None:
        if saved is None:
            log.warning("ubus connection made outside the main thread: "
                        "uloop_init() may have installed its own SIGTERM handler")
            return
        for signum, handler in saved.items():
            if handler is not None:  # None: installed outside Python, leave it
                _signal.signal(signum, handler)

    # -- public API -------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._ctx is not None and not self._head.sock.eof

    def _require(self) -> int:
        if self._ctx is None:
            raise UbusUnavailable("ubus connection is closed")
        return self._ctx

    def fileno(self) -> int:
        """The ubus socket's file descriptor (non-blocking), for selectors."""
        self._require()
        return self._head.sock.fd

    def add_object(self, name: str, methods: dict[str, Handler],
                   policies: dict[str, dict[str, str]] | None = None) -> None:
        """Register object `name` whose methods are `methods` (name -> handler), with the argument
        policies in `policies` (method -> {argument: type name in POLICY_TYPES}).

        Each handler gets the call's arguments as a dict and returns the reply
        dict. Raises UbusError if ubusd refuses (e.g. the name is taken).
        """
        ctx = self._require()
        if not methods:
            raise ValueError("an ubus object needs at least one method")
        handlers = dict(methods)
        me = weak_ref(self)  # no cycle: dropping the connection frees it

        def c_handler(_ctx, _obj, req, method, msg):  # runs inside libubus
            conn = me()
            if conn is None:
                return UBUS_STATUS_NOT_FOUND
            return conn._dispatch(handlers, req, method, msg)

        cb = UBUS_HANDLER_T(c_handler)
        name_b = ctypes.create_string_buffer(name.encode())
        table = (UbusMethod * len(handlers))()
        names = []
        for entry, mname in zip(table, handlers):
            names.append(ctypes.create_string_buffer(mname.encode()))
            entry.name = ctypes.cast(names[-1], c_char_p)
            entry.handler = cb
            policy = (policies or {}).get(mname) or {}
            entry.n_policy = len(policy)  # published in `ubus -v list`; arguments are not checked by libubus
            if policy:
                fields = (BlobmsgPolicy * len(policy))()
                for field, (arg, kind) in zip(fields, policy.items()):
                    names.append(ctypes.create_string_buffer(arg.encode()))
                    field.name = ctypes.cast(names[-1], c_char_p)
                    field.type = POLICY_TYPES[kind]
                names.append(fields)  # kept alive with the names
                entry.policy = ctypes.cast(fields, POINTER(BlobmsgPolicy))
        otype = UbusObjectType()
        otype.name = ctypes.cast(name_b, c_char_p)
        otype.methods = table
        otype.n_methods = len(handlers)
        obj = UbusObject()
        obj.name = ctypes.cast(name_b, c_char_p)
        obj.type = ctypes.pointer(otype)
        obj.methods = table
        obj.n_methods = len(handlers)
        self._keep.append((cb, name_b, names, table, otype, obj))
        with self._lock:
            ret = self._libs.ubus.ubus_add_object(ctx, ctypes.byref(obj))
        self._raise_deferred()
        if ret:
            self._keep.pop()
            raise UbusError(ret, f"ubus_add_object({name!r}): {self._libs.strerror(ret)}")

    def handle_readable(self) -> None:
        """Process every pending message (what ``ubus_handle_event`` does).

        Raises UbusUnavailable once ubusd has closed the connection: the
        caller should unregister fileno(), close() and reconnect.
        """
        self._require()
        with self._lock:
            sock = self._head.sock
            sock.cb(ctypes.byref(sock), ULOOP_READ)
        self._raise_deferred()
        if self._head.sock.eof:
            raise UbusUnavailable("connection to ubusd lost")

    def send_event(self, event: str, data: dict) -> None:
        """Broadcast event `event` with payload `data`; raises UbusError on failure."""
        ctx = self._require()
        with self._lock:
            head = self._event.from_dict(data)
            ret = self._libs.ubus.ubus_send_event(ctx, event.encode(), head)
        self._raise_deferred()
        if ret:
            raise UbusError(ret, f"ubus_send_event({event!r}): {self._libs.strerror(ret)}")

    def close(self) -> None:
        """ubus_free the context (its objects vanish from ubusd); idempotent.

        Must not be called from a method handler (libubus is still using the
        context then): that raises RuntimeError.
        """
        if self._dispatch_owner == leanthreads.get_ident():
            raise RuntimeError("UbusConnection.close() called from a ubus method handler")
        with self._lock:
            if self._ctx is not None:
                self._libs.ubus.ubus_free(self._ctx)
                self._ctx = None
                self._head = None  # type: ignore[assignment]
                self._reply.free()
                self._event.free()
                self._keep.clear()

    def __enter__(self) -> "UbusConnection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing sensible to do
            pass

    # -- C -> Python ------------------------------------------------------
    def _raise_deferred(self) -> None:
        exc, self._deferred_exc = self._deferred_exc, None
        if exc is not None:
            raise exc

    def _dispatch(self, handlers: dict[str, Handler], req, method: bytes | None, msg) -> int:
        """ubus_handler_t body. Never lets an exception escape into C."""
        name = (method or b"").decode(errors="replace")
        prev_owner, self._dispatch_owner = self._dispatch_owner, leanthreads.get_ident()
        try:
            try:
                args = self._parse_args(msg)
            except ValueError as exc:
                log.warning(f"ubus {name}: unparsable arguments: {exc}")
                return UBUS_STATUS_INVALID_ARGUMENT
            handler = handlers.get(name)
            if handler is None:
                return UBUS_STATUS_METHOD_NOT_FOUND
            result = handler(args)
            head = self._reply.from_dict(result)
            ret = self._libs.ubus.ubus_send_reply(self._ctx, req, head)
            return UBUS_STATUS_OK if ret == 0 else ret
        except UbusError as exc:
            log.info(f"ubus {name}: {exc}")
            return exc.status or UBUS_STATUS_UNKNOWN_ERROR
        except Exception:
            log.exception(f"ubus method {name} failed")
            return UBUS_STATUS_UNKNOWN_ERROR
        except BaseException as exc:  # KeyboardInterrupt/SystemExit: re-raise after C returns
            self._deferred_exc = exc
            return UBUS_STATUS_UNKNOWN_ERROR
        finally:
            self._dispatch_owner = prev_owner

    def _parse_args(self, msg) -> dict:
        if not msg:
            return {}
        ptr = self._libs.blobmsg_json.blobmsg_format_json_with_cb(msg, True, None, None, -1)
        if not ptr:
            return {}
        try:
            text = ctypes.string_at(ptr).decode("utf-8", errors="replace")
        finally:
            self._libs.libc.free(ptr)
        args = jsonsafe.loads(text)  # bounded nesting: a deep request is a clean ValueError, not a RecursionError
        if not isinstance(args, dict):
            raise ValueError("arguments are not an object")
        return args
