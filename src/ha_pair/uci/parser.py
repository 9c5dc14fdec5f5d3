"""Read UCI text the way libuci does (file.c in openwrt/uci).

Grammar, as libuci implements it:
- a line holds commands separated by `;`: `package`, `config`, `option`, `list`
  (or their one-letter forms `p`, `c`, `o`, `l`);
- a word is made of pieces glued together: 'single quoted' (no escapes, may span
  lines), "double quoted" (backslash escapes, may span lines) and bare text
  (backslash escapes the next character);
- a backslash at the end of a line continues the line;
- `#` outside quotes ends the line (a comment);
- `option x ''` (empty value) removes x; `list` turns an existing plain option into a list;
- reopening a named section adds to it; a different type for the same name is an error,
  as in libuci's strict mode which the uci tool uses.
"""

from __future__ import annotations

from .package import NAME_RE, Package, Section

_SPACE = " \t\r\v\f"


class UciSyntaxError(ValueError):
    """A UCI file that libuci would refuse, with the file and line."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


class _Scanner:
    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.path = path

    def error(self, message: str, line: int | None = None) -> UciSyntaxError:
        return UciSyntaxError(self.path, self.line if line is None else line, message)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def advance(self) -> str:
        char = self.text[self.pos]
        self.pos += 1
        if char == "\n":
            self.line += 1
        return char

    def at_continuation(self) -> bool:
        """A backslash followed by the end of the line (or of the text)."""
        rest = self.text[self.pos + 1 : self.pos + 3]
        return rest == "" or rest[0] == "\n" or rest == "\r\n"

    def skip_continuation(self) -> None:
        self.advance()  # the backslash
        if self.peek() == "\r":
            self.advance()
        if self.peek() == "\n":
            self.advance()

    def skip_to_line_end(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] != "\n":
            self.pos += 1

    def read_command(self) -> tuple[list[str], int] | None:
        """The words of the next command and the line it starts on; None at the end."""
        words: list[str] = []
        start_line = self.line
        while True:
            char = self.peek()
            if char == "":
                return (words, start_line) if words else None
            if char in _SPACE:
                self.advance()
                continue
            if char == "\\" and self.at_continuation():
                self.skip_continuation()
                continue
            if char == "\n":
                self.advance()
                if words:
                    return words, start_line
                start_line = self.line
                continue
            if char == ";":
                self.advance()
                if words:
                    return words, start_line
                continue
            if char == "#":
                self.skip_to_line_end()
                continue
            word, ends_command = self.read_word()
            words.append(word)
            if ends_command:
                return words, start_line

    def read_word(self) -> tuple[str, bool]:
        """One word; the flag says a `;` or a comment ended the command with it."""
        out: list[str] = []
        while True:
            char = self.peek()
            if char == "" or char in _SPACE or char == "\n":
                return "".join(out), False
            if char == "'":
                out.append(self.read_single_quoted())
            elif char == '"':
                out.append(self.read_double_quoted())
            elif char == "#":
                self.skip_to_line_end()
                return "".join(out), False
            elif char == ";":
                self.advance()
                return "".join(out), True
            elif char == "\\":
                if self.at_continuation():
                    self.skip_continuation()
                else:
                    self.advance()
                    out.append(self.advance())
            else:
                out.append(self.advance())

    def read_single_quoted(self) -> str:
        start = self.line
        self.advance()
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise self.error("EOF with unterminated '", start)
            char = self.advance()
            if char == "'":
                return "".join(out)
            out.append(char)

    def read_double_quoted(self) -> str:
        start = self.line
        self.advance()
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise self.error('EOF with unterminated "', start)
            char = self.peek()
            if char == '"':
                self.advance()
                return "".join(out)
            if char == "\\":
                if self.at_continuation():
                    self.skip_continuation()
                    continue
                self.advance()
                if self.pos >= len(self.text):
                    raise self.error('EOF with unterminated "', start)
            out.append(self.advance())


def _valid_type(section_type: str) -> bool:
    return bool(section_type) and all(33 <= ord(c) <= 126 for c in section_type)


def parse(text: str, name: str, path: str | None = None) -> Package:
    """Parse UCI text into a Package; raise UciSyntaxError naming the file and line."""
    path = path or name
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise UciSyntaxError(path, line, "NUL byte in file")
    scanner = _Scanner(text, path)
    package = Package(name=name, path=path)
    current: Section | None = None
    while True:
        command = scanner.read_command()
        if command is None:
            return package
        words, line = command
        verb = words[0]
        args = words[1:]
        if verb in ("package", "p"):
            _expect_args(scanner, line, verb, args, 1, 1)
            continue
        if verb in ("config", "c"):
            current = _open_section(scanner, line, package, args)
            continue
        if verb in ("option", "o", "list", "l"):
            if current is None:
                raise scanner.error("option/list command found before the first section", line)
            _expect_args(scanner, line, verb, args, 1, 2)
            option = args[0]
            if not NAME_RE.fullmatch(option):
                raise scanner.error(f"invalid character in option name {option!r}", line)
            value = args[1] if len(args) > 1 else ""
            if verb in ("list", "l"):
                current.add_list(option, value)
            elif value == "":
                current.delete(option)
                continue
            else:
                current.set(option, value)
            current.option_lines[option] = line
            continue
        raise scanner.error(f"invalid command {verb!r}", line)


def _expect_args(scanner: _Scanner, line: int, verb: str, args: list[str], least: int, most: int) -> None:
    if len(args) < least or (least and not args[0]):
        raise scanner.error(f"{verb}: insufficient arguments", line)
    if len(args) > most:
        raise scanner.error(f"{verb}: too many arguments", line)


def _open_section(scanner: _Scanner, line: int, package: Package, args: list[str]) -> Section:
    _expect_args(scanner, line, "config", args, 1, 2)
    section_type = args[0]
    if not _valid_type(section_type):
        raise scanner.error(f"invalid character in section type {section_type!r}", line)
    name = args[1] if len(args) > 1 and args[1] else None
    if name is None:
        section = package.add(section_type)
        section.line = line
        return section
    if not NAME_RE.fullmatch(name):
        raise scanner.error(f"invalid character in section name {name!r}", line)
    existing = package.find(name)
    if existing is not None:
        if existing.type != section_type:
            raise scanner.error(
                f"section {name!r} of type {section_type!r} overwrites prior section of type {existing.type!r}", line
            )
        return existing
    section = package.add(section_type, name)
    section.line = line
    return section
