"""Power Fx lexical rules: turns expression text into tokens, following Microsoft's ``TexlLexer``.

Invariant syntax only (``.`` decimal separator, ``,`` list separator), as Job Router expressions
are written. Identifiers are case-sensitive; names with other characters are single-quoted, with
``''`` for a quote; text literals use ``""`` for a quote; ``$"..{expr}.."`` is string
interpolation; ``//`` and ``/* */`` are comments (docs/powerfx.md, "Syntax").
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass

from devstack.jobrouter.powerfx.exceptions import PowerFxSyntaxError

__all__ = ["Token", "TokenKind", "tokenize"]


class TokenKind(enum.Enum):
    """What a token is; punctuators and keywords carry their spelling in ``Token.text``."""

    NUMBER = "number"
    TEXT = "text"
    IDENTIFIER = "identifier"
    KEYWORD = "keyword"
    PUNCTUATOR = "punctuator"
    INTERPOLATION_START = '$"'
    INTERPOLATION_TEXT = "interpolated text"
    ISLAND_START = "{ (interpolation)"
    ISLAND_END = "} (interpolation)"
    INTERPOLATION_END = '" (interpolation end)'
    END = "end of expression"


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, its source text (a keyword's or punctuator's spelling) and value."""

    kind: TokenKind
    text: str
    position: int
    value: str = ""  # decoded text literal / identifier name / interpolated text segment


# Longest first, so "<>" wins over "<".
_PUNCTUATORS = (
    "&&", "||", "<>", "<=", ">=", "=>", ":=",
    "=", "<", ">", "+", "-", "*", "/", "^", "%", "&", "!",
    "(", ")", ",", ".", "{", "}", "[", "]", ":", "@", ";",
)  # fmt: skip
_KEYWORDS = frozenset({"true", "false", "in", "exactin", "Self", "Parent", "And", "Or", "Not", "As"})
# Reserved by Power Fx ("Use of a reserved word that is currently not supported").
_RESERVED = frozenset(
    {"blank", "null", "empty", "none", "nothing", "undefined", "This", "Is", "Child", "Children", "Siblings"}
)
_IDENT_START_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nl"})
_IDENT_PART_CATEGORIES = _IDENT_START_CATEGORIES | {"Mn", "Mc", "Nd", "Pc", "Cf"}
_LINE_BREAKS = "\n\r\u2028\u2029\x85"


def _is_ident_start(ch: str) -> bool:
    if ch < "\x80":
        return ch.isascii() and (ch.isalpha() or ch == "_")
    return unicodedata.category(ch) in _IDENT_START_CATEGORIES


def _is_ident_part(ch: str) -> bool:
    if ch < "\x80":
        return ch.isascii() and (ch.isalnum() or ch == "_")
    return unicodedata.category(ch) in _IDENT_PART_CATEGORIES


class _Lexer:
    """A cursor over the text with a mode stack for string interpolation."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[Token] = []
        # One entry per open construct: "island" (inside {...} of $"..."), "brace" (a { inside an
        # island) or "interpolation" (between $" and its closing ").
        self.modes: list[str] = []

    def error(self, message: str, position: int) -> PowerFxSyntaxError:
        return PowerFxSyntaxError(message, position=position, construct="syntax", expression=self.text)

    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def run(self) -> list[Token]:
        while True:
            if self.modes and self.modes[-1] == "interpolation":
                if self.pos >= len(self.text):
                    raise self.error("Unterminated interpolated text: expected a closing '\"'.", self.pos)
                self.lex_interpolated_text()
                continue
            self.skip_trivia()
            if self.pos >= len(self.text):
                if self.modes:
                    raise self.error("Unterminated interpolated text: expected '}' and '\"'.", self.pos)
                self.tokens.append(Token(TokenKind.END, "", self.pos))
                return self.tokens
            self.lex_normal()

    def skip_trivia(self) -> None:
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch.isspace():
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end + 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.error("Missing end-comment identifier: a block comment has no '*/'.", self.pos)
                self.pos = end + 2
            else:
                return

    def lex_normal(self) -> None:
        ch = self.peek()
        start = self.pos
        if (ch.isascii() and ch.isdigit()) or (
            ch == "." and self.peek(1).isascii() and self.peek(1).isdigit()
        ):
            self.lex_number()
        elif _is_ident_start(ch) or ch == "'":
            self.lex_identifier()
        elif ch == "$" and self.peek(1) == '"':
            self.pos += 2
            self.modes.append("interpolation")
            self.tokens.append(Token(TokenKind.INTERPOLATION_START, '$"', start))
        elif ch == '"':
            self.lex_text()
        elif ch == "}" and self.modes and self.modes[-1] == "island":
            self.pos += 1
            self.modes.pop()
            self.tokens.append(Token(TokenKind.ISLAND_END, "}", start))
        else:
            for punctuator in _PUNCTUATORS:
                if self.text.startswith(punctuator, self.pos):
                    self.pos += len(punctuator)
                    if punctuator == "{" and self.modes:
                        self.modes.append("brace")
                    elif punctuator == "}" and self.modes and self.modes[-1] == "brace":
                        self.modes.pop()
                    self.tokens.append(Token(TokenKind.PUNCTUATOR, punctuator, start))
                    return
            raise self.error(f"Unexpected character '{ch}'.", start)

    def lex_number(self) -> None:
        text, start = self.text, self.pos
        seen_dot = False
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == ".":
                if seen_dot:
                    raise self.error("Unexpected characters: a number has two decimal points.", start)
                seen_dot = True
            elif not (ch.isascii() and ch.isdigit()):
                break
            self.pos += 1
        if self.peek() in ("e", "E"):
            sign = 1 if self.peek(1) in ("+", "-") else 0
            if self.peek(1 + sign).isascii() and self.peek(1 + sign).isdigit():
                self.pos += 1 + sign
                while self.peek().isascii() and self.peek().isdigit():
                    self.pos += 1
        self.tokens.append(Token(TokenKind.NUMBER, text[start : self.pos], start))

    def lex_identifier(self) -> None:
        text, start = self.text, self.pos
        if text[start] == "'":
            name_chars: list[str] = []
            self.pos += 1
            while True:
                ch = self.peek()
                if ch == "" or ch in _LINE_BREAKS:
                    raise self.error(
                        "Expected closing of identifier: a quoted name needs a closing (').", start
                    )
                if ch == "'":
                    if self.peek(1) == "'":
                        name_chars.append("'")
                        self.pos += 2
                        continue
                    self.pos += 1
                    break
                name_chars.append(ch)
                self.pos += 1
            name = "".join(name_chars)
            if not name.strip():
                raise self.error("The identifier is empty or only has spaces.", start)
            self.tokens.append(Token(TokenKind.IDENTIFIER, text[start : self.pos], start, name))
            return
        while self.pos < len(text) and _is_ident_part(text[self.pos]):
            self.pos += 1
        name = text[start : self.pos]
        # And/Or/Not directly followed by "(" are the functions, not the operators (TexlLexer).
        calls = self.peek() == "("
        if name in _KEYWORDS and not (calls and name in ("And", "Or", "Not")):
            self.tokens.append(Token(TokenKind.KEYWORD, name, start, name))
        elif name in _RESERVED:
            raise self.error(f"Use of a reserved word that is currently not supported: '{name}'.", start)
        else:
            self.tokens.append(Token(TokenKind.IDENTIFIER, name, start, name))

    def lex_text(self) -> None:
        text, start = self.text, self.pos
        chars: list[str] = []
        self.pos += 1
        while True:
            if self.pos >= len(text):
                raise self.error("Unterminated text: expected a closing '\"'.", start)
            ch = text[self.pos]
            if ch == '"':
                if self.peek(1) == '"':
                    chars.append('"')
                    self.pos += 2
                    continue
                self.pos += 1
                break
            chars.append(ch)
            self.pos += 1
        self.tokens.append(Token(TokenKind.TEXT, text[start : self.pos], start, "".join(chars)))

    def lex_interpolated_text(self) -> None:
        text, start = self.text, self.pos
        chars: list[str] = []
        while self.pos < len(text):
            ch = text[self.pos]
            pair = text[self.pos : self.pos + 2]
            if pair in ('""', "{{", "}}"):
                chars.append(ch)
                self.pos += 2
            elif ch == '"':
                self.flush_segment(chars, start)
                self.tokens.append(Token(TokenKind.INTERPOLATION_END, '"', self.pos))
                self.pos += 1
                self.modes.pop()
                return
            elif ch == "}":
                raise self.error(
                    "Unexpected characters: a '}' in interpolated text must be doubled.", self.pos
                )
            elif ch == "{":
                self.flush_segment(chars, start)
                self.tokens.append(Token(TokenKind.ISLAND_START, "{", self.pos))
                self.pos += 1
                self.modes.append("island")
                return
            else:
                chars.append(ch)
                self.pos += 1
        self.flush_segment(chars, start)

    def flush_segment(self, chars: list[str], start: int) -> None:
        if chars:
            segment = "".join(chars)
            self.tokens.append(Token(TokenKind.INTERPOLATION_TEXT, segment, start, segment))


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an ``END`` token; raises ``PowerFxSyntaxError``."""
    return _Lexer(text).run()
