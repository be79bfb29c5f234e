"""Parse a preprocessor and refuse, before anything runs, every construct outside the whitelist.

Checking the whole tree first means a refused program has no effect at all: nothing is printed
and no name is assigned, even when the refused part comes after harmless statements.

What a preprocessor may contain (everything else is refused with the line it is on):

* statements: an expression, ``name = ...`` / ``a, b = ...``, ``name += ...``, ``if``/``elif``/
  ``else``, ``pass``, and ``raise Exception("message")`` (also ``ValueError``/``RuntimeError``);
* literals: numbers (not complex), strings, ``True``/``False``/``None``, lists, tuples, dicts, sets,
  f-strings whose format specs are short constants such as ``{t:.1f}``;
* names of symbols and local variables (never names starting with ``_``);
* arithmetic, bitwise, comparison (chained, ``in``, ``is``), boolean, unary and ``x if c else y``;
* subscripts and slices: ``current["path"]``, ``metadata["history"][-1]``, ``s[:3]``;
* list/set/dict comprehensions and generator expressions (``for`` over a value, optional ``if``);
* calls of the builtins in ``BUILTINS`` only, by name, and calls of the methods in ``METHODS`` only
  (``metadata.get("obico", False)``, ``current["path"].endswith(".gcode")``). A method is only
  ever called, never read as a value, so no attribute of any object can be reached.
"""

from __future__ import annotations

import ast
import re

from farmctl.automation.limits import LIMITS, ExpressionError, Limits

BUILTINS = frozenset({
    "abs", "all", "any", "bool", "dict", "float", "int", "len", "list", "max", "min", "print",
    "range", "round", "sorted", "str", "sum", "tuple",
})
"""Functions a preprocessor may call by name; they are never values themselves."""

METHODS = {
    "get": dict, "keys": dict, "values": dict, "items": dict,
    "lower": str, "upper": str, "strip": str, "startswith": str, "endswith": str, "split": str,
    "join": str,
}
"""Method name -> the only type it may be called on. Nothing else after a dot is allowed."""

RAISABLE = frozenset({"Exception", "ValueError", "RuntimeError"})

SAFE_SPEC = re.compile(r"[<>^=]?[+\- ]?0?[0-9]{0,2}(\.[0-9]{1,2})?[bdeEfFgGosxX%]?")
"""Format specs allowed in f-strings and script placeholders: width and precision under 100."""

_PLAIN = (
    ast.Module, ast.Expr, ast.Pass, ast.If, ast.Load, ast.Store,
    ast.List, ast.Tuple, ast.Set, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.UAdd, ast.USub,
    ast.Not, ast.Invert, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod,
    ast.Pow, ast.LShift, ast.RShift, ast.BitAnd, ast.BitOr, ast.BitXor, ast.Compare, ast.Eq,
    ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot, ast.IfExp,
    ast.Subscript, ast.Slice, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
    ast.JoinedStr,
)

_WHAT = {
    ast.Lambda: "lambda", ast.FunctionDef: "def", ast.AsyncFunctionDef: "def", ast.ClassDef: "class",
    ast.Import: "import", ast.ImportFrom: "import", ast.For: "for loops (use a comprehension)",
    ast.While: "while loops", ast.With: "with", ast.Try: "try", ast.Global: "global",
    ast.Nonlocal: "nonlocal", ast.Delete: "del", ast.NamedExpr: "the := operator",
    ast.Starred: "* unpacking", ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
    ast.Return: "return (the last expression is the result)", ast.Assert: "assert",
    ast.MatchAs: "match", ast.Match: "match", ast.MatMult: "the @ operator",
    ast.AnnAssign: "annotations",
}


def parse(source: str, limits: Limits = LIMITS) -> ast.Module:
    """Return the checked tree of ``source`` or raise ExpressionError naming the line."""
    if not isinstance(source, str):
        raise ExpressionError(f"a preprocessor must be text, not {type(source).__name__}")
    if len(source) > limits.max_source_chars:
        raise ExpressionError(
            f"the preprocessor is {len(source)} characters long; the limit is {limits.max_source_chars}"
        )
    try:
        tree = ast.parse(source, mode="exec")
    except SyntaxError as exc:
        raise ExpressionError(f"line {exc.lineno or 1}: syntax error: {exc.msg}") from exc
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ExpressionError(f"line 1: the preprocessor is nested too deeply or malformed ({exc})") from exc
    _check(tree, limits)
    return tree


def _check(tree: ast.Module, limits: Limits) -> None:
    stack: list[tuple[ast.AST, int, int]] = [(tree, 0, 1)]
    count = 0
    while stack:
        node, depth, line = stack.pop()
        line = getattr(node, "lineno", line)
        count += 1
        if count > limits.max_nodes:
            raise ExpressionError(f"line {line}: the preprocessor is too long (more than {limits.max_nodes} parts)")
        if depth > limits.max_depth:
            raise ExpressionError(f"line {line}: the expression is nested too deeply (limit {limits.max_depth})")
        reason = _refusal(node)
        if reason is not None:
            raise ExpressionError(f"line {line}: {reason}")
        children = _children(node)
        stack.extend((child, depth + 1, line) for child in reversed(children))


def _children(node: ast.AST) -> list[ast.AST]:
    """Nodes to check under ``node``; a checked call's callee is not a value, so skip it."""
    if isinstance(node, ast.Call):
        callee = [node.func.value] if isinstance(node.func, ast.Attribute) else []
        return [*callee, *node.args, *node.keywords]
    if isinstance(node, ast.Raise):
        return list(node.exc.args) if isinstance(node.exc, ast.Call) else []
    return list(ast.iter_child_nodes(node))


def _refusal(node: ast.AST) -> str | None:
    """Why ``node`` is not allowed, or None when it is."""
    if isinstance(node, _PLAIN):
        return None
    if isinstance(node, ast.Constant):
        if node.value is None or isinstance(node.value, (bool, int, float, str)):
            return None
        return f"{type(node.value).__name__} literals are not allowed"
    if isinstance(node, ast.Name):
        return _name_refusal(node.id, isinstance(node.ctx, ast.Store))
    if isinstance(node, ast.Dict):
        return "** unpacking is not allowed" if None in node.keys else None
    if isinstance(node, (ast.Assign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            names = target.elts if isinstance(target, ast.Tuple) else [target]
            if not all(isinstance(name, ast.Name) for name in names):
                return "only plain names can be assigned (x = ... or a, b = ...)"
        return None
    if isinstance(node, ast.comprehension):
        names = node.target.elts if isinstance(node.target, ast.Tuple) else [node.target]
        if node.is_async or not all(isinstance(name, ast.Name) for name in names):
            return "a comprehension must read 'for name in ...' or 'for a, b in ...'"
        return None
    if isinstance(node, ast.Attribute):
        if node.attr not in METHODS:
            return f"'.{node.attr}' is not allowed; allowed methods: {', '.join(sorted(METHODS))}"
        return f"'.{node.attr}' must be called, e.g. x.{node.attr}(...)"
    if isinstance(node, ast.Call):
        return _call_refusal(node)
    if isinstance(node, ast.keyword):
        return "** unpacking is not allowed" if node.arg is None else None
    if isinstance(node, ast.FormattedValue):
        if node.format_spec is None:
            return None
        spec = node.format_spec
        if (len(spec.values) == 1 and isinstance(spec.values[0], ast.Constant)
                and SAFE_SPEC.fullmatch(str(spec.values[0].value))):
            return None
        return "only short constant format specs like {x:.1f} are allowed in f-strings"
    if isinstance(node, ast.Raise):
        exc = node.exc
        if (node.cause is None and isinstance(exc, ast.Call) and isinstance(exc.func, ast.Name)
                and exc.func.id in RAISABLE and not exc.keywords):
            return None
        return "raise must read: raise Exception(\"message\")"
    return f"{_WHAT.get(type(node), type(node).__name__)} is not allowed"


def _name_refusal(name: str, storing: bool) -> str | None:
    if name.startswith("_"):
        return f"names starting with '_' are not allowed ({name})"
    if name in BUILTINS or name in RAISABLE:
        return f"'{name}' is a builtin and cannot be assigned" if storing else f"'{name}' can only be called"
    return None


def _call_refusal(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        if func.id.startswith("_"):
            return _name_refusal(func.id, storing=False)
        if func.id in BUILTINS:
            return None
        if func.id in RAISABLE:
            return f"{func.id}(...) can only follow raise"
        return f"'{func.id}' is not an allowed function; allowed: {', '.join(sorted(BUILTINS))}"
    if isinstance(func, ast.Attribute):
        if func.attr not in METHODS:
            return f"'.{func.attr}' is not allowed; allowed methods: {', '.join(sorted(METHODS))}"
        if node.keywords:
            return f"'.{func.attr}(...)' takes no keyword arguments here"
        return None
    return "only builtins and allowed methods can be called"
