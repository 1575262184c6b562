"""An OData `$filter` tokenizer and recursive-descent parser (internal).

Grammar of the subset Graph's directory supports and the lab needs:

    expr       := and_expr ("or" and_expr)*
    and_expr   := unary ("and" unary)*
    unary      := "not" unary | comparison
    comparison := operand (("eq" | "ne" | "gt" | "ge" | "lt" | "le") operand
                          | "in" "(" literal ("," literal)* ")")?
    operand    := "(" expr ")" | literal | call | path ["/" ("any" | "all") "(" [name ":" expr] ")"]
    call       := name "(" operand ("," operand)* ")"
    literal    := 'text' ('' inside is one quote) | number | true | false | null

The parser only builds a tree; `_schema.py` decides what each resource supports.
"""

from __future__ import annotations

from dataclasses import dataclass

COMPARISON_OPERATORS = ("eq", "ne", "gt", "ge", "lt", "le")
KEYWORDS = {"and", "or", "not", "in", *COMPARISON_OPERATORS}


class FilterSyntaxError(ValueError):
    def __init__(self, message: str, position: int, text: str):
        super().__init__(f"Invalid filter clause: {message} at position {position} in '{text}'.")
        self.position = position


# --- tree ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    value: object          # str, int, float, bool or None


@dataclass(frozen=True)
class Property:
    name: str              # as written; resolved case-insensitively by the schema


@dataclass(frozen=True)
class RangeVariable:
    name: str              # the `p` of `proxyAddresses/any(p: ...)`


@dataclass(frozen=True)
class Compare:
    operator: str
    left: object
    right: object


@dataclass(frozen=True)
class In:
    operand: object
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class Call:
    function: str
    arguments: tuple[object, ...]


@dataclass(frozen=True)
class Lambda:
    collection: Property
    quantifier: str        # "any" or "all"
    variable: str | None
    body: object | None


@dataclass(frozen=True)
class And:
    left: object
    right: object


@dataclass(frozen=True)
class Or:
    left: object
    right: object


@dataclass(frozen=True)
class Not:
    operand: object


# --- tokens ------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str              # "string", "number", "name", "(", ")", ",", ":", "/", "end"
    value: object
    position: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char.isspace():
            index += 1
            continue
        if char in "(),:/":
            tokens.append(Token(char, char, index))
            index += 1
            continue
        if char == "'":
            start = index
            index += 1
            pieces = []
            while True:
                if index >= length:
                    raise FilterSyntaxError("unterminated string literal", start, text)
                if text[index] == "'":
                    if index + 1 < length and text[index + 1] == "'":   # '' is one quote
                        pieces.append("'")
                        index += 2
                        continue
                    index += 1
                    break
                pieces.append(text[index])
                index += 1
            tokens.append(Token("string", "".join(pieces), start))
            continue
        if char.isdigit() or (char == "-" and index + 1 < length and text[index + 1].isdigit()):
            start = index
            index += 1
            while index < length and (text[index].isdigit() or text[index] == "."):
                index += 1
            raw = text[start:index]
            try:
                number = float(raw) if "." in raw else int(raw)
            except ValueError as exc:
                raise FilterSyntaxError(f"bad number '{raw}'", start, text) from exc
            tokens.append(Token("number", number, start))
            continue
        if char.isalpha() or char in "_@$":
            start = index
            while index < length and (text[index].isalnum() or text[index] in "_.@$#"):
                index += 1
            tokens.append(Token("name", text[start:index], start))
            continue
        raise FilterSyntaxError(f"character '{char}' is not valid", index, text)
    tokens.append(Token("end", None, length))
    return tokens


# --- parser ------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.variables: list[str] = []

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def is_name(self, *names: str) -> bool:
        return self.current.kind == "name" and self.current.value in names

    def expect(self, kind: str) -> Token:
        if self.current.kind != kind:
            found = "end of input" if self.current.kind == "end" else f"'{self.current.value}'"
            raise FilterSyntaxError(f"expected '{kind}' but found {found}", self.current.position, self.text)
        return self.advance()

    def fail(self, message: str):
        raise FilterSyntaxError(message, self.current.position, self.text)

    def parse(self):
        if self.current.kind == "end":
            self.fail("empty filter")
        tree = self.expression()
        if self.current.kind != "end":
            self.fail(f"syntax error: unexpected '{self.current.value}'")
        return tree

    def expression(self):
        tree = self.and_expression()
        while self.is_name("or"):
            self.advance()
            tree = Or(tree, self.and_expression())
        return tree

    def and_expression(self):
        tree = self.unary()
        while self.is_name("and"):
            self.advance()
            tree = And(tree, self.unary())
        return tree

    def unary(self):
        if self.is_name("not"):
            self.advance()
            return Not(self.unary())
        return self.comparison()

    def comparison(self):
        left = self.operand()
        if self.is_name(*COMPARISON_OPERATORS):
            operator = self.advance().value
            return Compare(operator, left, self.operand())
        if self.is_name("in"):
            self.advance()
            self.expect("(")
            values = [self.literal()]
            while self.current.kind == ",":
                self.advance()
                values.append(self.literal())
            self.expect(")")
            return In(left, tuple(values))
        return left

    def literal(self) -> Literal:
        token = self.current
        if token.kind in ("string", "number"):
            self.advance()
            return Literal(token.value)
        if self.is_name("true", "false", "null"):
            self.advance()
            return Literal({"true": True, "false": False, "null": None}[token.value])
        return self.fail("a literal value was expected")

    def operand(self):
        token = self.current
        if token.kind == "(":
            self.advance()
            tree = self.expression()
            self.expect(")")
            return tree
        if token.kind in ("string", "number") or self.is_name("true", "false", "null"):
            return self.literal()
        if token.kind != "name" or token.value in KEYWORDS:
            self.fail("syntax error: an operand was expected")
        name = self.advance().value
        if self.current.kind == "(":
            return self.call(name)
        if name in self.variables:
            return RangeVariable(name)
        if self.current.kind == "/":
            self.advance()
            quantifier = self.expect("name").value
            if quantifier not in ("any", "all"):
                self.fail(f"navigation '{name}/{quantifier}' is not supported")
            return self.lambda_(Property(name), quantifier)
        return Property(name)

    def call(self, function: str) -> Call:
        self.expect("(")
        arguments = [self.operand()]
        while self.current.kind == ",":
            self.advance()
            arguments.append(self.operand())
        self.expect(")")
        return Call(function, tuple(arguments))

    def lambda_(self, collection: Property, quantifier: str) -> Lambda:
        self.expect("(")
        if self.current.kind == ")":
            self.advance()
            return Lambda(collection, quantifier, None, None)
        variable = self.expect("name").value
        self.expect(":")
        self.variables.append(variable)
        try:
            body = self.expression()
        finally:
            self.variables.pop()
        self.expect(")")
        return Lambda(collection, quantifier, variable, body)


def parse_filter(text: str):
    """The tree of a `$filter` expression; FilterSyntaxError when it does not parse."""
    return _Parser(text).parse()
