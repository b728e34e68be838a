"""Python value-flow facts, extracted per file: where values go, for the resolver's flow pass.

Each fact is a row of the `binds` table, `(scope, name, kind, value, line)`, whose `value` is an
expression in a small language the resolver evaluates (resolve_python.parse_flow):

  x  a.b  f()  e[0]  e["k"]  e[*]  e[1:]  e[@]    names, attributes, calls (arguments are separate
                                                  facts), subscripts (constant, unknown, slice,
                                                  iteration)
  [a,b]  {"k":a,*:b}  (e)  a|b  !f  <lambdaN>  ?  sequences, dicts, grouping, alternatives, the
                                                  undecorated function `f`, a lambda, unknown

Kinds: `=` (name: the target as an expression: `x`, `self.cb`, `d["k"]`), `return`, `arg`
(name: `COL|SLOT` of the call at that line and column, SLOT a position, a keyword, `*` or `**`),
`deco` (name: the decorated function, one row per decorator, top first), `iter` (`for` over an
instance), `with`, `op` (name: the dunder method, value: the left operand). Only facts whose
value mentions a name are kept. Nothing is resolved here: that happens after the file is placed.
"""
from __future__ import annotations

import re

LAMBDA = "\x01"  # `\x01<start byte>\x01` until parse.py has named the lambda `<lambdaN>`
_KEY = re.compile(r"[\w .:/-]{1,40}")
_OPS = {"+": "__add__", "-": "__sub__", "*": "__mul__", "/": "__truediv__", "//": "__floordiv__", "%": "__mod__",
        "@": "__matmul__", "**": "__pow__", "<<": "__lshift__", ">>": "__rshift__", "&": "__and__", "|": "__or__",
        "^": "__xor__", "==": "__eq__", "!=": "__ne__", "<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__",
        "in": "__contains__"}
_OPERANDS = {"identifier", "attribute", "call", "subscript"}
_SEQ = {"list", "tuple", "set", "expression_list", "pattern_list", "tuple_pattern", "list_pattern"}
_MUTATORS = {"append": "*", "add": "*", "insert": "*", "appendleft": "*", "extend": "@", "update": "", "setdefault": ""}
MAX_VALUE = 2000
_STRINGS = re.compile(r'"[^"]*"')
_NAMEISH = re.compile("[A-Za-z_" + LAMBDA + "]")  # in ASCII text: what _useful looks for
_HEAD = re.compile(r"[A-Za-z_]\w*")


def _text(node) -> str:
    return node.text.decode("utf-8", "replace")


def key_of(node) -> str:
    """A subscript key: a short constant (`"k"`, `0`) or `*`."""
    t = node.type
    if t == "integer":
        return _text(node)
    if t == "string" and node.named_child_count <= 3:
        content = "".join(_text(c) for c in node.named_children if c.type == "string_content")
        if _KEY.fullmatch(content) and '"' not in content:
            return f'"{content}"'
    if t == "slice":  # a list again: from its start (the end is not followed)
        first = node.children[0] if node.child_count else None
        return (_text(first) if first is not None and first.type == "integer" else "0") + ":"
    return "*"


def expr(node) -> str:
    """The flow expression of a node, `?` where it carries no value we follow."""
    t = node.type
    if t == "identifier":
        return _text(node)
    if t == "attribute":
        obj, attr = node.child_by_field_name("object"), node.child_by_field_name("attribute")
        base = expr(obj) if obj is not None else "?"
        return "?" if base == "?" or attr is None else f"{_group(base)}.{_text(attr)}"
    if t == "call":
        fn = node.child_by_field_name("function")
        base = expr(fn) if fn is not None else "?"
        return "?" if base == "?" else f"{_group(base)}()"
    if t == "subscript":
        value, sub = node.child_by_field_name("value"), node.child_by_field_name("subscript")
        base = expr(value) if value is not None else "?"
        return "?" if base == "?" else f"{_group(base)}[{key_of(sub) if sub is not None else '*'}]"
    if t in _SEQ:
        return "[" + ",".join(("*" + _group(expr(c.named_children[0])) if c.type in ("list_splat", "list_splat_pattern")
                                and c.named_child_count else expr(c)) for c in node.named_children) + "]"
    if t == "dictionary":
        items = []
        for c in node.named_children:
            if c.type == "pair":
                k, v = c.child_by_field_name("key"), c.child_by_field_name("value")
                items.append(f"{key_of(k) if k is not None else '*'}:{expr(v) if v is not None else '?'}")
            elif c.type == "dictionary_splat" and c.named_child_count:
                items.append(f"**:{expr(c.named_children[0])}")
        return "{" + ",".join(items) + "}"
    if t == "lambda":
        return f"{LAMBDA}{node.start_byte}{LAMBDA}"
    if t in ("parenthesized_expression", "await"):
        return expr(node.named_children[-1]) if node.named_child_count else "?"
    if t == "conditional_expression" and node.named_child_count >= 3:
        return _alt(expr(node.named_children[0]), expr(node.named_children[2]))
    if t == "boolean_operator":
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        return _alt(expr(left) if left is not None else "?", expr(right) if right is not None else "?")
    return "?"


def _alt(a: str, b: str) -> str:
    if a == "?":
        return b
    if b == "?":
        return a
    return f"{a}|{b}"


def _group(e: str) -> str:
    return f"({e})" if "|" in e and not (e.startswith("(") and e.endswith(")")) else e


def _useful(value: str) -> bool:
    """Does the value mention a name (outside string keys)?"""
    if len(value) > MAX_VALUE:
        return False
    if '"' in value:
        value = _STRINGS.sub("", value)
    if value.isascii():
        return _NAMEISH.search(value) is not None
    return any(ch.isalpha() or ch == "_" or ch == LAMBDA for ch in value)


def _targets(node, value: str, line: int, out: list) -> None:
    """`=` facts for an assignment target (names, attributes, subscripts, nested unpacking)."""
    t = node.type
    if t == "identifier":
        out.append((node.start_byte, _text(node), "=", value, line))
    elif t in ("attribute", "subscript"):
        target = expr(node)
        if target != "?":
            out.append((node.start_byte, target, "=", value, line))
    elif t in _SEQ or t == "parenthesized_expression":
        kids = node.named_children
        for i, c in enumerate(kids):
            if c.type in ("list_splat_pattern", "list_splat") and c.named_child_count:
                _targets(c.named_children[0], f"{_group(value)}[{i}:]", line, out)
            else:
                _targets(c, f"{_group(value)}[{i}]" if t != "parenthesized_expression" else value, line, out)
    elif t == "as_pattern_target" and node.named_child_count:
        _targets(node.named_children[0], value, line, out)


def facts(kind: str, node) -> list[tuple]:
    """Flow facts `(start_byte, name, kind, value, line)` for one captured node (see the .scm)."""
    out: list[tuple] = []
    line = node.start_point[0] + 1
    if kind == "assign":
        targets = []
        while node is not None and node.type == "assignment":
            left = node.child_by_field_name("left")
            if left is not None:
                targets.append(left)
            node = node.child_by_field_name("right")
        value = expr(node) if node is not None else "?"
        if _useful(value):
            for left in targets:
                _targets(left, value, line, out)
    elif kind == "default":  # a parameter's default flows into the parameter
        name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
        if name is not None and value is not None and (v := expr(value)) and _useful(v):
            out.append((node.start_byte, _text(name), "=", v, line))
    elif kind == "return":
        if node.named_child_count and _useful(v := expr(node.named_children[0])):
            out.append((node.start_byte, "", "return", v, line))
    elif kind == "for":
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is not None and right is not None and _useful(v := expr(right)):
            _targets(left, f"{_group(v)}[@]", line, out)
            out.append((right.start_byte, "", "iter", v, right.start_point[0] + 1))
    elif kind == "with":
        value, alias = node, None
        if node.type == "as_pattern":
            value, alias = node.named_children[0], node.child_by_field_name("alias")
        if _useful(v := expr(value)):
            out.append((node.start_byte, "", "with", v, line))
            if alias is not None:
                _targets(alias, f"{_group(v)}.__enter__()", line, out)
    elif kind == "op":
        left = node.child_by_field_name("left") if node.type == "binary_operator" else node.named_children[0]
        op = node.child_by_field_name("operator") if node.type == "binary_operator" else \
            (node.child_by_field_name("operators") or (node.children[1] if node.child_count > 1 else None))
        dunder = _OPS.get(_text(op)) if op is not None else None
        if dunder and left is not None and left.type in _OPERANDS and _useful(v := expr(left)):
            if dunder == "__contains__":  # `x in y` asks y
                right = node.named_children[-1]
                v = expr(right) if right.type in _OPERANDS else "?"
            if v != "?":
                out.append((node.start_byte, dunder, "op", v, line))
    elif kind == "deco":
        definition = node.child_by_field_name("definition")
        name = definition.child_by_field_name("name") if definition is not None else None
        if name is not None:
            for d in (c for c in node.children if c.type == "decorator"):
                if d.named_child_count and _useful(v := expr(d.named_children[0])):
                    out.append((node.start_byte, _text(name), "deco", v, d.start_point[0] + 1))
    return out


def _own_params(node) -> set[str]:
    """The parameters of the function around a node, but `self`/`cls`: an argument that is one of them
    is not followed (parameter flow goes one call deep), so it is not stored."""
    while node is not None and node.type not in ("function_definition", "lambda", "class_definition", "module"):
        node = node.parent
    return params_of(node)


def params_of(node) -> set[str]:
    """`_own_params` of the innermost function, lambda or class around a node (None: the module)."""
    if node is None or node.type in ("class_definition", "module"):
        return set()
    params = node.child_by_field_name("parameters")
    out = set()
    for p in params.named_children if params is not None else ():
        n = p.child_by_field_name("name") if p.type in ("default_parameter", "typed_default_parameter") else p
        if n is not None and n.type != "identifier" and n.named_child_count:
            n = n.named_children[0]
        if n is not None and n.type == "identifier":
            out.add(_text(n))
    return out - {"self", "cls"}


def arg_facts(call, col: int, line: int, own_params=None) -> list[tuple]:
    """`arg` facts for the arguments of a call whose called name is at (line, col); container
    mutations (`d.update({...})`, `xs.append(f)`) become `=` facts on the container.
    `own_params()`, when given, is `_own_params(call)` known without walking up the tree."""
    out: list[tuple] = []
    args = call.child_by_field_name("arguments")
    if args is None or args.type != "argument_list":
        return out
    own = None
    pos = 0
    values = []
    for a in args.named_children:
        if a.type == "keyword_argument":
            k, v = a.child_by_field_name("name"), a.child_by_field_name("value")
            if k is not None and v is not None:
                values.append((_text(k), expr(v), v))
        elif a.type == "list_splat":
            values.append(("*", expr(a.named_children[0]) if a.named_child_count else "?", a))
        elif a.type == "dictionary_splat":
            values.append(("**", expr(a.named_children[0]) if a.named_child_count else "?", a))
        elif a.type != "comment":
            values.append((str(pos), expr(a), a))
            pos += 1
    if not values:
        return out
    for slot, v, node in values:
        if _useful(v):
            head = _HEAD.match(v)
            if own is None and head:
                own = own_params() if own_params is not None else _own_params(call)
            if head and own and head.group() in own:
                continue
            out.append((node.start_byte, f"{col}|{slot}", "arg", v, line))
    fn = call.child_by_field_name("function")
    if fn is not None and fn.type == "attribute":
        method = _text(fn.child_by_field_name("attribute"))
        how = _MUTATORS.get(method)
        recv = expr(fn.child_by_field_name("object")) if how is not None else "?"
        if how is not None and recv != "?":
            for slot, v, node in values:
                if not _useful(v):
                    continue
                if how == "*" and slot == ("1" if method == "insert" else "0"):
                    out.append((node.start_byte, f"{_group(recv)}[*]", "=", v, line))
                elif how == "@" and slot == "0":
                    out.append((node.start_byte, f"{_group(recv)}[*]", "=", f"{_group(v)}[@]", line))
                elif method == "update" and slot == "0" and node.type == "dictionary":
                    for c in node.named_children:
                        if c.type == "pair" and (k := c.child_by_field_name("key")) is not None:
                            val = c.child_by_field_name("value")
                            if val is not None and _useful(ev := expr(val)):
                                out.append((c.start_byte, f"{_group(recv)}[{key_of(k)}]", "=", ev, line))
                elif method == "update" and not slot.isdigit() and slot not in ("*", "**"):
                    out.append((node.start_byte, f'{_group(recv)}["{slot}"]', "=", v, line))
                elif method == "setdefault" and slot == "1":
                    key = key_of(values[0][2]) if values and values[0][0] == "0" else "*"
                    out.append((node.start_byte, f"{_group(recv)}[{key}]", "=", v, line))
    return out
