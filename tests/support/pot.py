"""Regenerate luci-app-ha's translation template: `python3 -m tests.support.pot`.

The same strings as LuCI's build/i18n-scan.pl finds: every `_('...')` literal of the JS files, the
menu titles and the ACL descriptions, sorted like `msguniq -s`, each with the places it is used.
tests/unit/test_luci_app.py checks that the shipped file has exactly these strings.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "luci-app-ha"
POT = APP / "po" / "templates" / "luci-app-ha.pot"
CALL = re.compile(r"(?<![\w.$])_\(\s*('(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\")\s*[,)]")


def _where(path: Path, offset: int, text: str) -> str:
    return f"luci-app-ha/{path.relative_to(APP).as_posix()}:{text.count(chr(10), 0, offset) + 1}"


def strings() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((APP / "htdocs").rglob("*.js")):
        text = path.read_text()
        code = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)
        for match in CALL.finditer(code):
            msgid = re.sub(r"\\(.)", r"\1", match.group(1)[1:-1])
            found.setdefault(msgid, []).append(_where(path, match.start(), text))
    for path, key in ((APP / "root/usr/share/luci/menu.d/luci-app-ha.json", "title"),
                      (APP / "root/usr/share/rpcd/acl.d/luci-app-ha.json", "description")):
        text = path.read_text()
        for entry in json.loads(text).values():
            if key in entry:
                offset = text.index(f'"{key}": {json.dumps(entry[key])}')
                found.setdefault(entry[key], []).append(_where(path, offset, text))
    return found


def template() -> str:
    out = ['msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8"\n']
    for msgid, places in sorted(strings().items()):
        refs = "".join(f"#: {place}\n" for place in sorted(set(places)))
        escaped = msgid.replace("\\", "\\\\").replace('"', '\\"')
        out.append(f'{refs}msgid "{escaped}"\nmsgstr ""\n')
    return "\n".join(out)


if __name__ == "__main__":
    POT.write_text(template())
