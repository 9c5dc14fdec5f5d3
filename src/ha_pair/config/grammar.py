"""The grammar of every place a configuration value lands: one rule per destination.

Each check raises ValueError saying what is wrong (the caller adds the UCI path, file and line).
The rules are the intersection of what the consumers accept, kept to what a router needs:

- keepalived.conf (2.2.7): a line is read into a 1024-byte buffer, so byte 1024 starts a new
  line; words are split on whitespace; `!` and `#` start a comment anywhere, even inside a word;
  `{`/`}` open and close blocks; `"` and `'` quote; `$NAME` expands a definition, `~SEQ(...)`
  repeats a line, a leading `@` makes a line conditional, `include FILE` reads another file (also
  inside a block), a trailing `\\` continues the line;
- conntrackd.conf: bison-parsed words; `#` comments, `"` strings;
- nftables strings ("..." in iifname): `"` ends them, `\\` escapes, a trailing `*` is a wildcard;
- Linux interface names: 1-15 bytes (IFNAMSIZ 16 with the NUL), not `.`/`..`, no whitespace,
  `/` or `:` (dev_valid_name());
- libuci names (sections, options): [A-Za-z0-9_], at least one;
- command lines of the check helper and keepalived's `script "..."`: keepalived splits the
  string on whitespace and honours quotes and backslashes, so a path must be one plain word.
UCI files may hold bytes that are not UTF-8 (read with surrogateescape): none may reach a
generated file, a command line or the status JSON.
"""

from __future__ import annotations

import ipaddress
import re

from ..uci.package import NAME_RE

KEEPALIVED_LINE_MAX = 1023  # bytes, without the newline
IFNAME_MAX = 15  # IFNAMSIZ - 1
NAME_MAX = 64  # instance and check names: keepalived's notify FIFO lines, file names under /var/run
SCRIPT_PATH_MAX = 255  # keeps `script "<helper> script <name> <path>"` far below the line limit
ROUTER_ID_MAX = 253  # a DNS name
AUTH_PASS_MAX = 8  # bytes: keepalived copies at most 8 into the VRRPv2 header and drops the rest
ROUTE_INDENT = 8  # virtual_routes / virtual_rules lines sit two blocks deep
ROUTE_MAX = KEEPALIVED_LINE_MAX - ROUTE_INDENT

_UCI_REF = re.compile(r"@[A-Za-z0-9_-]+\[-?[0-9]+\]")
_IFNAME = re.compile(r"[A-Za-z0-9._+-]+")
_HOSTNAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9._-]*[A-Za-z0-9_])?")
_PATH = re.compile(r"(/[A-Za-z0-9._+,=-]+)+")
_WORD = re.compile(r"[A-Za-z0-9._:/+-]+")
_DECIMAL = re.compile(r"-?[0-9]+")
# printable ASCII that keepalived reads as part of a plain word (no comment, quote, block,
# definition, sequence or escape character)
_PASSWORD_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F)) - set("!#\"'{}$~\\@")


def utf8(text: str) -> None:
    """Bytes that were not UTF-8 in the UCI file come back as lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains bytes that are not UTF-8") from None


def _byte_length(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


def _first_bad(text: str, allowed: re.Pattern[str] | frozenset[str]) -> str:
    for char in text:
        ok = char in allowed if isinstance(allowed, frozenset) else allowed.fullmatch(char)
        if not ok:
            return char
    return ""


def _describe(char: str) -> str:
    if char.isspace():
        return f"whitespace {char!r}"
    return repr(char)


def decimal(text: str) -> int:
    """An integer as UCI consumers (strtol, atoi, shell tests) read it: ASCII digits only.
    Python's int() also takes other scripts' digits and underscores, which they do not."""
    if not _DECIMAL.fullmatch(text):
        raise ValueError("is not an integer (ASCII digits, optionally a leading -)")
    return int(text, 10)


def no_scope(text: str) -> None:
    """Python's ipaddress accepts an IPv6 scope (`fe80::1%anything`, spaces and newlines
    included); inet_pton, keepalived and the kernel do not."""
    if "%" in text:
        raise ValueError("has a scope (%...): not accepted here")


def uci_name(text: str) -> None:
    utf8(text)
    if not NAME_RE.fullmatch(text):
        raise ValueError("is not a UCI name (letters, digits and _ only, as libuci requires)")


def uci_section_ref(text: str) -> None:
    """A section as `uci` names it: its name, or `@type[N]` for an anonymous one."""
    utf8(text)
    if not (NAME_RE.fullmatch(text) or _UCI_REF.fullmatch(text)):
        raise ValueError("is not a UCI section name or @type[N] reference")


def rendered_name(text: str) -> None:
    """A section name that becomes a vrrp_instance or vrrp_script name."""
    uci_name(text)
    if len(text) > NAME_MAX:
        raise ValueError(f"is {len(text)} characters; at most {NAME_MAX}")


def interface_name(text: str) -> None:
    """A Linux device name that also reads as one word in keepalived.conf and conntrackd.conf,
    and as a plain (wildcard-free) string in nftables."""
    utf8(text)
    size = _byte_length(text)
    if not 1 <= size <= IFNAME_MAX:
        raise ValueError(f"is {size} bytes; Linux interface names have 1-{IFNAME_MAX}")
    if text in (".", ".."):
        raise ValueError("is not a Linux interface name")
    bad = _first_bad(text, _IFNAME)
    if bad:
        raise ValueError(f"contains {_describe(bad)}: interface names here are letters, digits, "
                         "'.', '_', '+' and '-' (Linux refuses whitespace, '/' and ':'; keepalived, "
                         "conntrackd and nftables misread the rest)")


def ipv6_link_local(text: str) -> None:
    """An IPv6 link-local address written bare into an nftables rule (no zone, no prefix)."""
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        raise ValueError("is not an IPv6 address") from None
    if not address.is_link_local or address.scope_id or str(address) != text:
        raise ValueError("is not a canonical IPv6 link-local address (fe80::/10)")


def router_id(text: str) -> None:
    """keepalived's router_id: a host name."""
    utf8(text)
    size = _byte_length(text)
    if not 1 <= size <= ROUTER_ID_MAX:
        raise ValueError(f"is {size} bytes; a node name has 1-{ROUTER_ID_MAX}")
    if not _HOSTNAME.fullmatch(text):
        raise ValueError("is not a host name (letters, digits, '.', '_' and '-', not at either end)")


def password(text: str) -> None:
    """auth_pass: one keepalived word of at most 8 bytes."""
    utf8(text)
    size = _byte_length(text)
    if not 1 <= size <= AUTH_PASS_MAX:
        raise ValueError(f"is {size} bytes; keepalived uses only the first {AUTH_PASS_MAX} and silently "
                         f"drops the rest: use 1-{AUTH_PASS_MAX}")
    if _first_bad(text, _PASSWORD_CHARS):  # the character itself is not shown: it is part of a secret
        raise ValueError("contains whitespace, a non-ASCII character or one of ! # \" ' { } $ ~ \\ @, "
                         "which would end the line, start a comment or be expanded in keepalived.conf")


def script_path(text: str) -> None:
    """An absolute path that keepalived passes as one argument to the check helper."""
    utf8(text)
    if not text.startswith("/"):
        raise ValueError("is not an absolute path")
    size = _byte_length(text)
    if size > SCRIPT_PATH_MAX:
        raise ValueError(f"is {size} bytes; at most {SCRIPT_PATH_MAX}")
    if not _PATH.fullmatch(text):
        bad = _first_bad(text, re.compile(r"[A-Za-z0-9._+,=/-]")) or "//"
        raise ValueError(f"contains {_describe(bad)}: keepalived would split or reinterpret the command; "
                         "use letters, digits and . _ + , = - in the path")


def keepalived_words(text: str) -> None:
    """A virtual_routes / virtual_rules line: plain words, nothing keepalived would expand,
    include, comment out or split, and short enough to stay one line."""
    utf8(text)
    words = text.split(" ")
    if not text or any(not w for w in words):
        raise ValueError("must be words separated by single spaces")
    for word in words:
        bad = _first_bad(word, _WORD)
        if bad:
            raise ValueError(f"contains {_describe(bad)}: only letters, digits and . _ : / + - are accepted "
                             "(keepalived reads ! # as comments, { } as blocks, $ ~ @ \\ \" ' specially)")
    if words[0] == "include":
        raise ValueError("starts with `include`: keepalived would read another file here")
    size = _byte_length(text)
    if size > ROUTE_MAX:
        raise ValueError(f"is {size} bytes: with its indent the line would pass keepalived's "
                         f"{KEEPALIVED_LINE_MAX}-byte line limit (at most {ROUTE_MAX})")


def plain_text(text: str) -> None:
    """A value that reaches no generated file (only lookups and status): valid UTF-8, one line."""
    utf8(text)
    bad = next((c for c in text if ord(c) < 32 or ord(c) == 127), "")
    if bad:
        raise ValueError(f"contains the control character {bad!r}")


def keepalived_line(line: str) -> None:
    """A whole rendered line: the renderers' own guard."""
    utf8(line)
    if _byte_length(line) > KEEPALIVED_LINE_MAX or "\n" in line or "\r" in line:
        raise ValueError(f"rendered line would not stay one keepalived line: {line[:80]!r}...")


# dnsmasq's dhcp-hostsfile (one --dhcp-host per line, re-read on SIGHUP): `id:` followed by the
# client-id as colon-separated hex (with a colon dnsmasq reads it as hex, without as a string),
# or an Ethernet address, then the IPv4 address. Nothing else: no tag, name or lease time.
_DHCP_HOST = re.compile(r"(?:id:[0-9a-f]{2}(?::[0-9a-f]{2})+|[0-9a-f]{2}(?::[0-9a-f]{2}){5}),"
                        r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}"
                        r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])")


def dhcp_host_entry(line: str) -> None:
    """One line of a dhcp-hostsfile as ha-pair writes it: `id:<hex:hex..>,<ipv4>` or `<mac>,<ipv4>`."""
    if not _DHCP_HOST.fullmatch(line):
        raise ValueError(f"not a dhcp-hostsfile line of the form id:HEX,IPV4 or MAC,IPV4: {line[:80]!r}")


_DHCP_HOST_BYTES = re.compile(_DHCP_HOST.pattern.encode())


def dhcp_host_entries(lines: list[bytes]) -> None:
    """dhcp_host_entry for the lines of a whole file, built as bytes (tens of thousands of them)."""
    fullmatch = _DHCP_HOST_BYTES.fullmatch
    for line in lines:
        if fullmatch(line) is None:
            dhcp_host_entry(line.decode("ascii", "backslashreplace"))  # raises, naming the line
