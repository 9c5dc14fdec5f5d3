#!/usr/bin/python3
"""A stand-in for LuCI's server side (luci-base's ucode dispatcher), run by uhttpd as the CGI
/cgi-bin/luci on a test router.

Why a stand-in: the dispatcher needs luci-base's C core (luci.core, lmo), which is not in the
vendored LuCI trees; everything the browser runs (luci.js, form.js, ui.js, rpc.js, the theme, the
views) is LuCI's own. This CGI does, with the same rules as dispatcher.uc and
controller/admin/uci.uc, only what the pages of these tests need:
- the menu tree from /usr/share/luci/menu.d/*.json, nodes hidden or read-only by the session's
  ACL groups (`depends.acl`) and by `depends.uci` (the config must exist); `admin/menu` answers it;
- login: the sysauth form (luci_username, luci_password) -> rpcd `session login`, a CSRF token
  in the session, the `sysauth_http` cookie;
- pages: a `view` node renders LuCI's page skeleton (the bootstrap theme's header and footer,
  luci.js with the same `L.env` as header.ut), `template admin_status/index` (Status > Overview)
  the view `status/index`, `firstchild` the first reachable child;
- admin/uci/apply_rollback, apply_unchecked, confirm, revert: rpcd's `uci apply` (with rollback)
  and `uci confirm`, the rollback token kept in rpcd's session 00000000000000000000000000000000.
Translations (admin/translations) are not served: the pages are English. luci-base's `luci` rpcd
object (a ucode plugin needing luci.core) does not exist here either: the page seeds LuCI's
feature cache with an empty set, as if `luci getFeatures` had answered {}.
"""

from __future__ import annotations

import glob
import html
import json
import os
import re
import secrets
import subprocess
import sys
import time

# uhttpd runs CGIs with PATH=/sbin:/usr/sbin:/bin:/usr/bin
UBUS = "ubus"
UCI = "uci"
ROOT_SESSION = "00000000000000000000000000000000"
SCRIPT = os.environ.get("SCRIPT_NAME", "/cgi-bin/luci")
UBUS_ERROR_HTTP = [(200, "OK"), (400, "Invalid command"), (400, "Invalid argument"), (404, "Method not found"),
                   (404, "Not found"), (204, "No data"), (403, "Permission denied"), (504, "Timeout"),
                   (500, "Not supported"), (500, "Unknown error"), (503, "Connection failed"),
                   (500, "Out of memory"), (400, "Parse error"), (500, "System error")]


def ubus_call(obj: str, method: str, args: dict) -> tuple[int, dict | None]:
    """(ubus status, reply) of a call as root; the ubus CLI exits 256 minus the status."""
    run = subprocess.run([UBUS, "call", obj, method, json.dumps(args)], capture_output=True, text=True, timeout=30)
    status = 0 if run.returncode == 0 else 256 - run.returncode
    return status, (json.loads(run.stdout) if run.stdout.strip() else None)


def uci_get(config: str, section: str, option: str, default: str) -> str:
    run = subprocess.run([UCI, "-q", "get", f"{config}.{section}.{option}"], capture_output=True, text=True)
    return run.stdout.strip() or default


# -- the request -------------------------------------------------------------------------------------
def form_pairs(text: str) -> dict[str, str]:
    """application/x-www-form-urlencoded name=value pairs ('+' a space, %XX a byte; blank values
    left out, as urllib's parse_qsl does): a lab router's python3-light has no urllib."""
    def unquote(part: str) -> str:
        raw = part.replace("+", " ").encode()
        return re.sub(rb"%([0-9A-Fa-f]{2})", lambda m: bytes.fromhex(m.group(1).decode()), raw).decode(errors="replace")

    pairs = (item.partition("=") for item in text.split("&"))
    return {unquote(name): unquote(value) for name, _, value in pairs if value}


def form() -> dict[str, str]:
    values = form_pairs(os.environ.get("QUERY_STRING", ""))
    if os.environ.get("REQUEST_METHOD") == "POST":
        body = sys.stdin.buffer.read(int(os.environ.get("CONTENT_LENGTH") or 0)).decode(errors="replace")
        if "urlencoded" in os.environ.get("CONTENT_TYPE", ""):
            values.update(form_pairs(body))
    return values


def cookie(name: str) -> str | None:
    for part in os.environ.get("HTTP_COOKIE", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def respond(status: str = "200 OK", body: str = "", content_type: str = "text/html; charset=UTF-8",
            headers: tuple[str, ...] = ()) -> None:
    out = [f"Status: {status}"] + list(headers)
    if status[:3] != "204":
        out.append(f"Content-Type: {content_type}")
    sys.stdout.write("\r\n".join(out) + "\r\n\r\n" + body)


# -- the page tree (dispatcher.uc build_pagetree, check_depends, apply_tree_acls) ---------------------
def page_tree() -> dict:
    tree: dict = {"action": {"type": "firstchild"}, "satisfied": True}
    for path in sorted(glob.glob("/usr/share/luci/menu.d/*.json")):
        with open(path) as handle:
            entries = json.load(handle)
        for name, spec in entries.items():
            node = tree
            for segment in [s for s in name.split("/") if s]:
                if segment.startswith("*"):
                    node["wildcard"] = True
                    break
                node = node.setdefault("children", {}).setdefault(segment, {"satisfied": True})
            if node is tree:
                continue
            for key in ("action", "auth", "cors", "depends", "order", "title", "firstchild_ineligible"):
                if key in spec:
                    node[key] = spec[key]
            node["satisfied"] = depends_met(spec.get("depends") or {})
    return tree


def depends_met(depends: dict) -> bool:
    uci = depends.get("uci")
    if isinstance(uci, dict):
        return all(os.path.exists(f"/etc/config/{config}") for config in uci)
    fs = depends.get("fs")
    if isinstance(fs, dict):
        return all(os.path.exists(path) == (kind != "absent") for path, kind in fs.items())
    return True


def acl_level(groups: list[str], granted: dict) -> bool | None:
    """None: a required group is not granted at all; False: read only; True: writable."""
    writable = False
    for group in groups:
        levels = granted.get(group) or []
        if "read" not in levels and "write" not in levels:
            return None
        writable = writable or "write" in levels
    return writable if groups else True


def apply_acls(node: dict, granted: dict) -> None:
    for child in (node.get("children") or {}).values():
        apply_acls(child, granted)
    groups = (node.get("depends") or {}).get("acl")
    if groups:
        level = acl_level(groups, granted)
        if level is None:
            node["satisfied"] = False
        elif level is False:
            node["readonly"] = True


def weight(node: dict) -> int:
    return min(node.get("order", 9999), 9999) + (10000 if (node.get("auth") or {}).get("login") else 0)


def first_child(node: dict, path: list[str], granted: dict) -> list[str] | None:
    best: tuple[int, list[str]] | None = None
    for name, child in (node.get("children") or {}).items():
        if not child.get("satisfied") or not child.get("title") or not isinstance(child.get("action"), dict):
            continue
        if acl_level((child.get("depends") or {}).get("acl") or [], granted) is None:
            continue
        if child["action"].get("type") == "firstchild":
            deeper = first_child(child, path + [name], granted)
            if deeper and (best is None or best[0] > weight(child)):
                best = (weight(child), deeper)
        elif not child.get("firstchild_ineligible") and (best is None or best[0] > weight(child)):
            best = (weight(child), path + [name])
    return best[1] if best else None


# -- sessions ----------------------------------------------------------------------------------------
def session(sid: str | None) -> dict | None:
    if not sid:
        return None
    status, data = ubus_call("session", "get", {"ubus_rpc_session": sid})
    if status or not isinstance((data or {}).get("values", {}).get("token"), str):
        return None
    _, access = ubus_call("session", "access", {"ubus_rpc_session": sid})
    return {"sid": sid, "values": data["values"], "acls": access or {}}


def login(user: str, password: str) -> dict | None:
    timeout = int(uci_get("luci", "sauth", "sessiontime", "3600"))
    status, data = ubus_call("session", "login", {"username": user, "password": password, "timeout": timeout})
    sid = (data or {}).get("ubus_rpc_session") if status == 0 else None
    if not sid:
        return None
    ubus_call("session", "set", {"ubus_rpc_session": sid, "values": {"token": secrets.token_hex(16)}})
    return session(sid)


# -- admin/uci (controller/admin/uci.uc) ------------------------------------------------------------
def uci_action(action: str, sid: str, values: dict) -> None:
    def state(status: int) -> None:
        code, text = UBUS_ERROR_HTTP[status] if status < len(UBUS_ERROR_HTTP) else (200, "OK")
        respond(f"{code} {text}", "" if code == 204 else text, "text/plain")

    if action == "apply_rollback":
        timeout = max(int(uci_get("luci", "apply", "rollback", "90")), 90)
        status, _ = ubus_call("uci", "apply", {"ubus_rpc_session": sid, "timeout": timeout, "rollback": True})
        if status:
            return state(status)
        token = secrets.token_hex(16)
        ubus_call("session", "set", {"ubus_rpc_session": ROOT_SESSION, "values": {"rollback": {
            "token": token, "session": sid, "timeout": int(time.time()) + timeout}}})
        return respond(body=json.dumps({"token": token}), content_type="application/json; charset=UTF-8")
    if action == "apply_unchecked":
        _, changes = ubus_call("uci", "changes", {"ubus_rpc_session": sid})
        for config in (changes or {}).get("changes", {}):
            status, _ = ubus_call("uci", "commit", {"ubus_rpc_session": sid, "config": config})
            if status:
                return state(status)
        return state(ubus_call("uci", "apply", {"ubus_rpc_session": sid, "rollback": False})[0])
    if action == "confirm":
        _, data = ubus_call("session", "get", {"ubus_rpc_session": ROOT_SESSION, "keys": ["rollback"]})
        pending = ((data or {}).get("values") or {}).get("rollback") or {}
        if not isinstance(pending.get("token"), str) or int(pending.get("timeout") or 0) < time.time():
            return state(5)  # no data
        if values.get("token") != pending["token"]:
            return state(6)  # permission denied
        status, _ = ubus_call("uci", "confirm", {"ubus_rpc_session": pending["session"]})
        if status:
            return state(status)
        ubus_call("session", "set", {"ubus_rpc_session": ROOT_SESSION, "values": {"rollback": {}}})
        return state(0)
    if action == "revert":
        _, changes = ubus_call("uci", "changes", {"ubus_rpc_session": sid})
        status = 0
        for config in (changes or {}).get("changes", {}):
            status = ubus_call("uci", "revert", {"ubus_rpc_session": sid, "config": config})[0]
            if status:
                break
        return state(status)
    respond("404 Not Found", "no such action", "text/plain")


# -- pages -------------------------------------------------------------------------------------------
def page(title: str, view: str, ctx: dict, node: dict, heading: str = "") -> str:
    env = {
        "media": "/luci-static/bootstrap", "resource": "/luci-static/resources", "scriptname": SCRIPT,
        "pathinfo": os.environ.get("PATH_INFO", ""), "documentroot": "/www", "requestpath": ctx["request_path"],
        "dispatchpath": ctx["path"], "pollinterval": 5, "ubuspath": uci_get("luci", "main", "ubuspath", "/ubus/"),
        "sessionid": ctx["session"]["sid"], "token": ctx["session"]["values"]["token"], "nodespec": node,
        "apply_rollback": max(int(uci_get("luci", "apply", "rollback", "90")), 90),
        "apply_holdoff": max(int(uci_get("luci", "apply", "holdoff", "4")), 1),
        "apply_timeout": max(int(uci_get("luci", "apply", "timeout", "5")), 1),
        "apply_display": max(float(uci_get("luci", "apply", "display", "1.5")), 1), "rollback_token": None,
    }
    hostname = uci_get("system", "@system[0]", "hostname", "OpenWrt")
    env_json = json.dumps(env).replace("/", "\\/")  # as header.ut writes it: no "</script>" inside
    # luci-base's `luci` rpcd object is a ucode plugin that needs luci.core (not vendored): this router
    # has none, so LuCI starts with its feature probe answered as if getFeatures had said {}
    store = json.dumps({ctx["session"]["sid"]: {"features": {}}})
    features = f"<script>sessionStorage.setItem('luci-session-store', {json.dumps(store)});</script>"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(hostname)} | {html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/luci-static/bootstrap/cascade.css">
<link rel="icon" href="/luci-static/bootstrap/logo_48.png" sizes="48x48">
<script src="/luci-static/resources/cbi.js"></script>
</head>
<body class="lang_en {html.escape(title)}" data-page="{html.escape('-'.join(ctx['request_path']))}">
<header><a class="brand" href="/">{html.escape(hostname)}</a><ul class="nav" id="topmenu" style="display:none"></ul>
<div id="indicators" class="pull-right"></div></header>
<div id="maincontent" class="container">
<div id="tabmenu" style="display:none"></div>
{features}
<script src="/luci-static/resources/luci.js"></script>
<script>L = new LuCI({env_json});</script>
{heading}
<div id="view"><div class="spinning">Loading view…</div>
<script>L.require('ui').then(function(ui) {{ ui.instantiateView({json.dumps(view)}); }});</script>
</div>
</div>
<footer><span>Powered by LuCI (ha-pair test router)</span>
<ul class="breadcrumb pull-right" id="modemenu" style="display:none"></ul></footer>
<script>L.require('menu-bootstrap')</script>
</body>
</html>
"""


def login_page(failed: bool) -> str:
    warning = ('<div class="alert-message warning"><p>Invalid username and/or password! Please try again.</p></div>'
               if failed else "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Authorization Required</title>
<link rel="stylesheet" href="/luci-static/bootstrap/cascade.css"></head>
<body><div id="maincontent" class="container"><form method="post">{warning}
<div class="cbi-map"><h2 name="content">Authorization Required</h2>
<div class="cbi-map-descr">Please enter your username and password.</div>
<div class="cbi-section"><div class="cbi-section-node">
<div class="cbi-value"><label class="cbi-value-title">Username</label><div class="cbi-value-field">
<input class="cbi-input-text" type="text" name="luci_username" value="root" /></div></div>
<div class="cbi-value cbi-value-last"><label class="cbi-value-title">Password</label><div class="cbi-value-field">
<input class="cbi-input-text" type="password" name="luci_password" /></div></div>
</div></div></div>
<div class="cbi-page-actions"><input type="submit" value="Log in" class="btn cbi-button cbi-button-apply" /></div>
</form></div></body></html>
"""


def main() -> None:
    path = [s for s in os.environ.get("PATH_INFO", "").split("/") if s]
    values = form()
    if path == ["admin", "uci", "confirm"]:  # `auth: {}` and no CSRF token: the rollback token decides
        return uci_action("confirm", "", values)
    tree = page_tree()
    current = session(cookie("sysauth_http"))
    if current is None:
        user, password = values.get("luci_username"), values.get("luci_password")
        current = login(user, password) if user is not None and password is not None else None
        if current is None:
            return respond("403 Forbidden", login_page(user is not None), headers=("X-LuCI-Login-Required: yes",))
        return respond("302 Found", headers=(
            f"Set-Cookie: sysauth_http={current['sid']}; path={SCRIPT}/; SameSite=strict; HttpOnly",
            f"Location: {SCRIPT}/{'/'.join(path)}"))
    granted = current["acls"].get("access-group", {})
    apply_acls(tree, granted)
    if path == ["admin", "menu"]:
        return respond(body=json.dumps(tree), content_type="application/json; charset=UTF-8")
    if path[:2] == ["admin", "uci"] and len(path) == 3:
        if os.environ.get("REQUEST_METHOD") != "POST":
            return respond("405 Method Not Allowed", headers=("Allow: POST",))
        if values.get("token") != current["values"]["token"]:
            return respond("403 Forbidden", "Invalid token", "text/plain")
        return uci_action(path[2], current["sid"], values)
    node, walked, acls = tree, [], []
    for segment in path or ["admin"]:
        node = (node.get("children") or {}).get(segment)
        if node is None or not node.get("satisfied"):
            return respond("404 Not Found", f"No page is registered at '/{'/'.join(path)}'.", "text/plain")
        walked.append(segment)
        acls += (node.get("depends") or {}).get("acl") or []
    action = node.get("action") or {}
    if action.get("type") == "firstchild":
        target = first_child(node, walked, granted)
        if target is None:
            return respond("404 Not Found", "No page is reachable here.", "text/plain")
        return respond("302 Found", headers=(f"Location: {SCRIPT}/{'/'.join(target)}",))
    level = acl_level(acls, granted)
    if level is None:
        return respond("403 Forbidden", "Access denied", "text/plain")
    node = {**node, "readonly": not level}
    ctx = {"path": walked, "request_path": path, "session": current}
    if action.get("type") == "view":
        return respond(body=page(node.get("title", ""), action["path"], ctx, node))
    if action.get("type") == "template" and action.get("path") == "admin_status/index":
        return respond(body=page(node.get("title", ""), "status/index", ctx, node, '<h2 name="content">Status</h2>'))
    respond("500 Internal Server Error", f"action {action.get('type')} is not served by this stand-in", "text/plain")


if __name__ == "__main__":
    main()
