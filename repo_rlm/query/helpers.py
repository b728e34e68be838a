"""The helper registry: each helper the model's REPL, the MCP server, the CLI and the docs offer,
declared once (name, arguments, one-line doc, result type).

The REPL namespace (`namespace`), the prompt's helper list (`prompt_list`), the MCP tool schemas
(`input_schema`, `output_schema`) and the README table (`markdown_table`) are all made from
`HELPERS`. Every helper that returns a list takes `limit`; a cut list says so (`ResultList.note`).

`python -m repo_rlm.query.helpers` prints the README table.
"""
from __future__ import annotations

import dataclasses
import inspect
import typing
from dataclasses import dataclass
from typing import Any

from .results import BlameLine, Call, Commit, Definition, GrepHit, Import, OutlineItem, Reference, SearchHit, Span, cut

REQUIRED = inspect.Parameter.empty
MAX_LIMIT = 10_000  # what one call may ask for at most (an agent must never get an unbounded dump)

# The fields a reader needs first, per result type (all of them are in `to_dict()`).
RESULT_FIELDS: dict[type, tuple[str, ...]] = {
    Definition: ("name", "qualname", "kind", "lang", "path", "start_line", "end_line", "signature"),
    Call: ("caller", "callee", "path", "line", "column", "text", "resolution"),
    Reference: ("path", "line", "column", "text", "kind"),
    OutlineItem: ("name", "qualname", "kind", "start_line", "end_line", "children"),
    Span: ("path", "start_line", "end_line", "text"),
    GrepHit: ("path", "line", "text"),
    SearchHit: ("path", "start_line", "end_line", "symbol", "kind", "score"),
    Import: ("path", "line", "module", "name", "alias", "resolved"),
    Commit: ("sha", "author", "date", "subject"),
    BlameLine: ("line", "sha", "author", "date", "text"),
}
_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


class HelperError(ValueError):
    """Arguments a helper cannot take (unknown name, missing, wrong type)."""


@dataclass(frozen=True)
class Param:
    name: str
    type: type  # str, int or bool
    doc: str
    default: Any = REQUIRED

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class Helper:
    name: str
    doc: str  # one line
    params: tuple[Param, ...]
    result: type  # the item type of a list, or the one object returned
    many: bool = True  # returns a list, and takes `limit`
    bound: str | None = None  # a Repo argument that already bounds the list: fetched with limit + 1
    text: bool = False  # the REPL gets the object's `text` (read_span returns a str)
    method: str = ""  # the Repo method, when its name differs

    # -- presentation -------------------------------------------------------------------------

    def signature(self) -> str:
        parts = [p.name if p.required else f"{p.name}={p.default!r}" for p in self.params]
        if self.many:
            parts.append("limit=None")
        return f"{self.name}({', '.join(parts)})"

    def returns(self) -> str:
        if self.text:
            return "str"
        return f"list[{self.result.__name__}]" if self.many else self.result.__name__

    def fields(self) -> str:
        return ", ".join(RESULT_FIELDS[self.result])

    # -- schemas (MCP) ------------------------------------------------------------------------

    def input_schema(self, default_limit: int | None = None) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for p in self.params:
            prop: dict[str, Any] = {"type": _JSON_TYPES[p.type], "description": p.doc}
            if p.type is int and p.name in ("start_line", "end_line", "k", "n", "max_results"):
                prop["minimum"] = 1
            if not p.required and p.default is not None:
                prop["default"] = p.default
            props[p.name] = prop
        if self.many:
            props["limit"] = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                              "description": "return at most this many results"}
            if default_limit is not None:
                props["limit"]["default"] = default_limit
        return {"type": "object", "properties": props, "required": [p.name for p in self.params if p.required],
                "additionalProperties": False}

    def output_schema(self) -> dict[str, Any]:
        item = _object_schema(self.result)
        if not self.many:
            return item
        return {"type": "object", "required": ["results", "truncated"], "properties": {
            "results": {"type": "array", "items": item},
            "truncated": {"type": "boolean", "description": "whether `limit` cut the list"},
            "more": {"type": ["integer", "null"], "description": "how many were cut (null: not counted)"},
        }}

    # -- calling ------------------------------------------------------------------------------

    def check(self, args: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
        """Validated keyword arguments for the Repo method, and the limit. Raises HelperError."""
        if not isinstance(args, dict):
            raise HelperError(f"{self.name}: arguments must be an object")
        known = {p.name: p for p in self.params}
        unknown = sorted(set(args) - set(known) - ({"limit"} if self.many else set()))
        if unknown:
            raise HelperError(f"{self.name}: unknown argument{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                              f"it takes {self.signature()}")
        out: dict[str, Any] = {}
        for p in self.params:
            if p.name not in args or (args[p.name] is None and not p.required):
                if p.required:
                    raise HelperError(f"{self.name}: missing argument {p.name!r}; it takes {self.signature()}")
                out[p.name] = p.default
                continue
            value = args[p.name]
            if not isinstance(value, p.type) or (p.type is int and isinstance(value, bool)):
                raise HelperError(f"{self.name}: {p.name} must be {_JSON_TYPES[p.type]}, not {type(value).__name__}")
            if p.type is int and p.name in ("start_line", "end_line", "k", "n", "max_results") and value < 1:
                raise HelperError(f"{self.name}: {p.name} must be at least 1")
            out[p.name] = value
        limit = args.get("limit") if self.many else None
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT):
            raise HelperError(f"{self.name}: limit must be an integer from 1 to {MAX_LIMIT}")
        return out, limit

    def call(self, repo: Any, args: dict[str, Any]) -> Any:
        """Run the helper on a Repo: a ResultList (cut to `limit`, `truncated`/`more` set) or one object."""
        kwargs, limit = self.check(args)
        method = getattr(repo, self.method or self.name)
        if not self.many:
            return method(**kwargs)
        if self.bound is not None and limit is not None:
            given = kwargs.get(self.bound) if self.bound != "limit" else None
            if given is None or limit < given:  # fetch one more than the limit: then the cut is known
                kwargs[self.bound] = limit + 1
                return cut(method(**kwargs), limit, known_total=False)
        return cut(method(**kwargs), limit)

    def bind(self, repo: Any):
        """A function for the REPL namespace with this helper's signature (positional arguments too)."""
        params = [inspect.Parameter(p.name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                    default=p.default) for p in self.params]
        if self.many:
            params.append(inspect.Parameter("limit", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None))
        sig = inspect.Signature(params)
        helper = self

        def fn(*args: Any, **kwargs: Any) -> Any:
            try:
                bound = sig.bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(f"{helper.name}: {exc}; it takes {helper.signature()}") from None
            out = helper.call(repo, dict(bound.arguments))
            return out.text if helper.text else out

        fn.__name__ = fn.__qualname__ = self.name
        fn.__doc__ = f"{self.doc} Returns {self.returns()}" + (f" ({self.fields()})." if not self.text else ".")
        fn.__signature__ = sig  # type: ignore[attr-defined]
        return fn


def _object_schema(cls: type) -> dict[str, Any]:
    props: dict[str, Any] = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        t = hints[f.name]
        if typing.get_origin(t) is list:
            props[f.name] = {"type": "array", "items": {"type": "object"}}
        else:
            props[f.name] = {"type": _JSON_TYPES[t]}
    return {"type": "object", "properties": props, "required": list(RESULT_FIELDS[cls])}


_P = Param
HELPERS: dict[str, Helper] = {h.name: h for h in (
    Helper("find_defs", "Definitions by bare name (`login`), qualified name or its suffix (`User.save`), or glob (`*auth*`).",
           (_P("name", str, "bare name, qualified name, or glob"),
            _P("kind", str, "only this kind: function, method, class, interface, struct, enum, variable, constant, module", None),
            _P("path", str, "only files matching this glob", None)), Definition),
    Helper("callers_of", "Call sites that reach SYMBOL, each with how it was tied to it (`resolution`).",
           (_P("symbol", str, "bare name, qualified name, or glob"),), Call),
    Helper("callees_of", "What SYMBOL calls (with include_external, also builtins and other packages).",
           (_P("symbol", str, "bare name, qualified name, or glob"),
            _P("include_external", bool, "also calls that leave the repository", False)), Call),
    Helper("references", "Every occurrence of the identifier NAME in source files, labelled by kind.",
           (_P("name", str, "an identifier (the last part of a qualified name counts)"),), Reference, bound="limit"),
    Helper("outline", "The definitions of one file, nested.",
           (_P("path", str, "a file, relative to the repository root"),), OutlineItem),
    Helper("read_span", "The text of lines START..END of a file (1-based, inclusive).",
           (_P("path", str, "a file, relative to the repository root"),
            _P("start_line", int, "first line (1-based)"), _P("end_line", int, "last line (inclusive)")),
           Span, many=False, text=True, method="show"),
    Helper("grep", "Regex search over the repository's files, line by line.",
           (_P("pattern", str, "a Python regular expression"), _P("glob", str, "only files matching this glob", None),
            _P("max_results", int, "stop after this many hits", 200)), GrepHit, bound="max_results"),
    Helper("search", "Code ranked for a query (words, identifiers, paths, a traceback), best first; "
           "definitions named in the query come first.",
           (_P("query", str, "words, identifiers or a question"), _P("k", int, "how many results", 20),
            _P("mode", str, "lexical, semantic or hybrid (default: hybrid where the index has vectors)", None)),
           SearchHit, bound="k"),
    Helper("semantic_search", "Definitions nearest in meaning to a query, by embedding (the vectors extra; "
           "`repo-rlm index --embed`).",
           (_P("query", str, "words or a question"), _P("k", int, "how many results", 20)), SearchHit, bound="k"),
    Helper("imports_of", "The imports of one file, with what each reaches in the repository.",
           (_P("path", str, "a file, relative to the repository root"),), Import),
    Helper("importers_of", "The imports, anywhere in the repository, of MODULE.",
           (_P("module", str, "a module's qualified name"),), Import),
    Helper("git_log", "Recent commits, of the whole repository or of one path.",
           (_P("path", str, "only commits touching this path", None), _P("n", int, "how many commits", 20)), Commit,
           bound="n"),
    Helper("blame", "Who last changed each of lines START..END of a file.",
           (_P("path", str, "a file, relative to the repository root"),
            _P("start_line", int, "first line (1-based)"), _P("end_line", int, "last line (inclusive)")), BlameLine),
)}


def namespace(repo: Any) -> dict[str, Any]:
    """The names a model's REPL starts with (SPEC.md): `repo` and the helpers."""
    return {"repo": repo, **{name: h.bind(repo) for name, h in HELPERS.items()}}


def prompt_list() -> str:
    """The helper lines of the model's system prompt."""
    lines = []
    for h in HELPERS.values():
        what = f" -> {h.returns()}" if h.text else f" (`{h.fields()}`)"
        lines.append(f"- `{h.signature()}`{what}: {h.doc}")
    return "\n".join(lines)


def markdown_table() -> str:
    """The README's helper table."""
    rows = ["| helper | returns | what |", "| --- | --- | --- |"]
    for h in HELPERS.values():
        doc = h.doc.replace("|", "\\|")
        rows.append(f"| `{h.signature()}` | `{h.returns()}` | {doc} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
