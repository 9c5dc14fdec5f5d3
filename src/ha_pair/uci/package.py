"""In-memory form of one UCI package (/etc/config/<name>).

Mirrors what libuci keeps: ordered sections (named or anonymous), each with ordered
options whose value is a string or a list of strings. Line numbers are kept so that
validation errors can point at the file and line.
"""

from __future__ import annotations

import re
from ..record import record, field

Value = str | list[str]

# libuci accepts only [A-Za-z0-9_] in option and section names (use fullmatch: `$` would also
# match before a trailing newline).
NAME_RE = re.compile(r"[A-Za-z0-9_]+")
_REF_RE = re.compile(r"@([^\[\]]+)\[(-?[0-9]+)\]")


@record
class Section:
    type: str
    name: str | None = None  # None: anonymous section
    options: dict[str, Value] = field(default_factory=dict)
    line: int = 0
    option_lines: dict[str, int] = field(default_factory=dict)

    @property
    def anonymous(self) -> bool:
        return self.name is None

    def get(self, option: str, default: str | None = None) -> str | None:
        """The value of a plain option (a list yields its last item, as uci get would not)."""
        value = self.options.get(option)
        if value is None:
            return default
        if isinstance(value, list):
            return value[-1] if value else default
        return value

    def get_list(self, option: str) -> list[str]:
        """An option as a list: a plain option becomes a one-item list, as libuci's
        config_list_foreach and most OpenWrt scripts treat it."""
        value = self.options.get(option)
        if value is None:
            return []
        if isinstance(value, list):
            return list(value)
        return [value]

    def set(self, option: str, value: str) -> None:
        self.options[option] = value

    def add_list(self, option: str, value: str) -> None:
        current = self.options.get(option)
        if current is None:
            self.options[option] = [value]
        elif isinstance(current, list):
            current.append(value)
        else:
            self.options[option] = [current, value]

    def delete(self, option: str) -> None:
        self.options.pop(option, None)
        self.option_lines.pop(option, None)


def _copied(options: dict[str, Value]) -> dict[str, Value]:
    return {name: list(value) if isinstance(value, list) else value for name, value in options.items()}


@record
class Package:
    name: str
    sections: list[Section] = field(default_factory=list)
    path: str = ""  # where it was read from, for error messages

    def copy(self) -> "Package":
        """A deep copy (values are strings and lists of strings: no copy module in the agent)."""
        return Package(name=self.name, path=self.path, sections=[
            Section(type=s.type, name=s.name, options=_copied(s.options), line=s.line,
                    option_lines=dict(s.option_lines)) for s in self.sections])

    def content(self) -> list[tuple[str, str | None, dict[str, Value]]]:
        """What the package says, without line numbers: for comparing two packages."""
        return [(s.type, s.name, _copied(s.options)) for s in self.sections]

    def of_type(self, section_type: str) -> list[Section]:
        return [s for s in self.sections if s.type == section_type]

    def find(self, ref: str) -> Section | None:
        """Look a section up by name or by `@type[N]` (negative N counts from the end)."""
        match = _REF_RE.fullmatch(ref)
        if match:
            typed = self.of_type(match.group(1))
            index = int(match.group(2))
            try:
                return typed[index]
            except IndexError:
                return None
        for section in self.sections:
            if section.name == ref:
                return section
        return None

    def ref(self, section: Section) -> str:
        """The name uci shows for a section: its own name, or `@type[N]` when anonymous."""
        if section.name is not None:
            return section.name
        typed = self.of_type(section.type)
        for index, candidate in enumerate(typed):
            if candidate is section:
                return f"@{section.type}[{index}]"
        raise ValueError("section does not belong to this package")

    def add(self, section_type: str, name: str | None = None) -> Section:
        section = Section(type=section_type, name=name)
        self.sections.append(section)
        return section
