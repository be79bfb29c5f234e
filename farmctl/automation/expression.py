"""Evaluate Continuous Print preprocessors without Python's eval, exec or compile.

A preprocessor is a few lines of Python-like text (what asteval users write in the plugin):

    x = current["bed_temp"]
    x > 40

Its result is the value of the last expression statement that ran (None if the last statement
was an assignment). The tree is checked against the whitelist in ``syntax`` before anything
runs, then walked here node by node. Every size is checked before the work that would exceed
it, and every node evaluated costs a step of a fixed budget, so a preprocessor cannot exhaust
memory or time. Values are only ever plain data (numbers, strings, lists, tuples, dicts, sets,
None); functions are reachable only by calling a whitelisted name, so no object's attributes
can be reached. Symbols are never modified: there is no item assignment and no mutating method.
"""

from __future__ import annotations

import ast
import operator
import reprlib
from collections.abc import Callable, Iterable, Mapping

from farmctl.automation.limits import LIMITS, ExpressionError, Limits, text_size, weight
from farmctl.automation.syntax import METHODS, parse

__all__ = ["Evaluator", "ExpressionError", "Limits", "LIMITS", "evaluate"]

_SIZED = (str, list, tuple, dict, set, range)
_SEQUENCES = (str, list, tuple)
_ITERABLE = (str, list, tuple, dict, set, range)
_BINARY: dict[type, Callable[[object, object], object]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
    ast.LShift: operator.lshift, ast.RShift: operator.rshift, ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_, ast.BitXor: operator.xor,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg, ast.Not: operator.not_, ast.Invert: operator.invert}
_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_DEEP = frozenset({"sorted", "min", "max", "dict"})
"""Builtins that compare or hash the items they are given."""
_KEYWORDS = {"print": {"sep", "end"}, "sorted": {"reverse"}, "min": {"default"}, "max": {"default"}}


class _Fail(Exception):
    """Internal: a refusal at run time; ``Evaluator.run`` adds the line and re-raises."""


class Evaluator:
    """Runs preprocessors against one symbol table.

    Names a preprocessor assigns stay visible to the next one run by the same Evaluator (the
    plugin shares one interpreter among the hooks of an event); ``assigned`` holds them and
    ``stdout`` what ``print`` wrote. A failed run leaves ``assigned`` as it was before the run.
    """

    def __init__(self, symbols: Mapping[str, object], limits: Limits = LIMITS) -> None:
        self._symbols = dict(symbols)
        self._limits = limits
        self.assigned: dict[str, object] = {}
        self._out: list[str] = []
        self._out_len = 0
        self._scopes: list[dict[str, object]] = [self.assigned]
        self._steps = 0
        self._alloc = 0
        self._line = 1

    @property
    def stdout(self) -> str:
        return "".join(self._out)

    def run(self, source: str) -> object:
        """Check and evaluate ``source``; return its result or raise ExpressionError."""
        tree = parse(source, self._limits)
        before = dict(self.assigned)
        self._steps = self._alloc = 0
        self._line = 1
        self._scopes = [self.assigned]
        try:
            return self._block(tree.body)
        except (_Fail, ArithmeticError, LookupError, TypeError, ValueError, RecursionError, MemoryError) as exc:
            self.assigned.clear()
            self.assigned.update(before)
            raise ExpressionError(f"line {self._line}: {_describe(exc)}") from None

    # statements -------------------------------------------------------------------------------

    def _block(self, body: list[ast.stmt]) -> object:
        result = None
        for stmt in body:
            self._line = stmt.lineno
            self._tick()
            if isinstance(stmt, ast.Expr):
                result = self._eval(stmt.value)
            elif isinstance(stmt, ast.Assign):
                value = self._eval(stmt.value)
                for target in stmt.targets:
                    self._bind(target, value, self.assigned)
                result = None
            elif isinstance(stmt, ast.AugAssign):
                current = self._lookup(stmt.target.id)
                self.assigned[stmt.target.id] = self._binary(stmt.op, current, self._eval(stmt.value))
                result = None
            elif isinstance(stmt, ast.If):
                result = self._block(stmt.body if self._eval(stmt.test) else stmt.orelse)
            elif isinstance(stmt, ast.Raise):
                args = [self._eval(arg) for arg in stmt.exc.args]
                raise _Fail("the preprocessor raised: " + " ".join(str(arg) for arg in args))
            else:  # ast.Pass; syntax.parse refuses every other statement
                result = None
        return result

    def _bind(self, target: ast.expr, value: object, scope: dict[str, object]) -> None:
        if isinstance(target, ast.Name):
            scope[target.id] = value
            return
        if not isinstance(value, _ITERABLE):
            raise _Fail(f"cannot unpack a {type(value).__name__}")
        items = list(value)
        if len(items) != len(target.elts):
            raise _Fail(f"cannot unpack {len(items)} values into {len(target.elts)} names")
        for name, item in zip(target.elts, items):
            scope[name.id] = item

    # expressions ------------------------------------------------------------------------------

    def _tick(self) -> None:
        self._steps += 1
        if self._steps > self._limits.max_steps:
            raise _Fail(f"the preprocessor took more than {self._limits.max_steps} steps")

    def _weigh(self, *values: object) -> None:
        """Charge the step budget for comparing, hashing or sorting ``values`` (deep work in C)."""
        for value in values:
            self._steps += weight(value, self._limits.max_steps - self._steps)
            if self._steps > self._limits.max_steps:
                raise _Fail(f"the preprocessor took more than {self._limits.max_steps} steps "
                            "(comparing, hashing or sorting large values counts)")

    def _fit(self, value: object) -> object:
        """Refuse a value over the size limits and charge it to this run's allocation budget."""
        limits = self._limits
        if isinstance(value, int) and not isinstance(value, bool):
            if value.bit_length() > limits.max_int_bits:
                raise _Fail(f"an integer larger than {limits.max_int_bits} bits is not allowed")
        elif isinstance(value, _SIZED):
            self._charge(len(value))
        return value

    def _charge(self, size: int) -> None:
        if size > self._limits.max_len:
            raise _Fail(f"a value of {size} characters or items is over the limit of {self._limits.max_len}")
        self._alloc += size
        if self._alloc > self._limits.max_alloc:
            raise _Fail(f"the preprocessor built more than {self._limits.max_alloc} characters or items in total")

    def _eval(self, node: ast.expr) -> object:
        self._tick()
        self._line = getattr(node, "lineno", self._line)
        return getattr(self, "_" + type(node).__name__)(node)

    def _Constant(self, node: ast.Constant) -> object:
        return node.value

    def _Name(self, node: ast.Name) -> object:
        return self._lookup(node.id)

    def _lookup(self, name: str) -> object:
        for scope in reversed(self._scopes):
            if name in scope:
                return scope[name]
        if name in self._symbols:
            return self._symbols[name]
        known = ", ".join(sorted({*self._symbols, *self.assigned})) or "none"
        raise _Fail(f"name '{name}' is not defined (defined: {known})")

    def _List(self, node: ast.List) -> object:
        return self._fit([self._eval(elt) for elt in node.elts])

    def _Tuple(self, node: ast.Tuple) -> object:
        return self._fit(tuple(self._eval(elt) for elt in node.elts))

    def _Set(self, node: ast.Set) -> object:
        items = [self._eval(elt) for elt in node.elts]
        self._weigh(items)
        return self._fit(set(items))

    def _Dict(self, node: ast.Dict) -> object:
        pairs = [(self._eval(k), self._eval(v)) for k, v in zip(node.keys, node.values)]
        self._weigh([key for key, _ in pairs])
        return self._fit(dict(pairs))

    def _BoolOp(self, node: ast.BoolOp) -> object:
        value: object = None
        for operand in node.values:
            value = self._eval(operand)
            if bool(value) is isinstance(node.op, ast.Or):
                return value
        return value

    def _UnaryOp(self, node: ast.UnaryOp) -> object:
        return self._fit(_UNARY[type(node.op)](self._eval(node.operand)))

    def _BinOp(self, node: ast.BinOp) -> object:
        return self._binary(node.op, self._eval(node.left), self._eval(node.right))

    def _binary(self, op: ast.operator, left: object, right: object) -> object:
        self._precheck(type(op), left, right)
        return self._fit(_BINARY[type(op)](left, right))

    def _precheck(self, op: type, left: object, right: object) -> None:
        """Refuse, before computing it, a result that would be too large to build."""
        bits = self._limits.max_int_bits
        ints = all(isinstance(v, int) for v in (left, right))
        if op is ast.Mult and ints:
            if left.bit_length() + right.bit_length() > bits + 1:
                raise _Fail(f"an integer larger than {bits} bits is not allowed")
        elif op is ast.Mult:
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, _SEQUENCES) and isinstance(count, int):
                    self._charge(len(seq) * max(count, 0))
        elif op is ast.Add and isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
            self._charge(len(left) + len(right))
        elif op is ast.Pow and ints and right > 0 and abs(left) > 1:
            if right > bits or (abs(left).bit_length() - 1) * right > bits:
                raise _Fail(f"{left} ** {right} is larger than {bits} bits; not allowed")
        elif op is ast.LShift and ints and left != 0 and right > 0:
            if right > bits or left.bit_length() + right > bits:
                raise _Fail(f"{left} << {right} is larger than {bits} bits; not allowed")
        elif op is ast.Mod and isinstance(left, str):
            raise _Fail("the % operator on strings is not allowed; use an f-string")

    def _Compare(self, node: ast.Compare) -> object:
        left = self._eval(node.left)
        for op, comparator in zip(node.ops, node.comparators):
            right = self._eval(comparator)
            self._weigh(left, right)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True

    def _IfExp(self, node: ast.IfExp) -> object:
        return self._eval(node.body if self._eval(node.test) else node.orelse)

    def _Subscript(self, node: ast.Subscript) -> object:
        container = self._eval(node.value)
        if not isinstance(container, (dict, list, tuple, str, range)):
            raise _Fail(f"cannot use [...] on a {type(container).__name__}")
        if isinstance(node.slice, ast.Slice):
            bounds = [None if part is None else self._eval(part)
                      for part in (node.slice.lower, node.slice.upper, node.slice.step)]
            return self._fit(container[slice(*bounds)])
        key = self._eval(node.slice)
        self._weigh(key)
        return container[key]

    def _JoinedStr(self, node: ast.JoinedStr) -> object:
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(value.value)
                continue
            item = self._eval(value.value)
            self._charge(text_size(item, self._limits.max_len))
            if value.conversion == ord("r"):
                item = repr(item)
            elif value.conversion in (ord("s"), ord("a")):
                item = str(item) if value.conversion == ord("s") else ascii(item)
            spec = "" if value.format_spec is None else value.format_spec.values[0].value
            parts.append(self._fit(format(item, spec)))
        return self._fit("".join(parts))

    # comprehensions ---------------------------------------------------------------------------

    def _ListComp(self, node: ast.ListComp) -> object:
        out: list[object] = []
        self._comprehend(node.generators, lambda: out.append(self._grow(self._eval(node.elt), len(out))))
        return out

    _GeneratorExp = _ListComp  # evaluated eagerly: any(...)/sum(...) see a bounded list

    def _SetComp(self, node: ast.SetComp) -> object:
        out: set[object] = set()
        def emit() -> None:
            item = self._grow(self._eval(node.elt), len(out))
            self._weigh(item)
            out.add(item)

        self._comprehend(node.generators, emit)
        return out

    def _DictComp(self, node: ast.DictComp) -> object:
        out: dict[object, object] = {}

        def emit() -> None:
            key = self._eval(node.key)
            self._weigh(key)
            out[key] = self._grow(self._eval(node.value), len(out))

        self._comprehend(node.generators, emit)
        return out

    def _grow(self, item: object, size: int) -> object:
        self._charge(1)
        if size >= self._limits.max_len:
            raise _Fail(f"a comprehension made more than {self._limits.max_len} items")
        return item

    def _comprehend(self, generators: list[ast.comprehension], emit: Callable[[], None]) -> None:
        scope: dict[str, object] = {}
        self._scopes.append(scope)
        try:
            self._generate(generators, 0, scope, emit)
        finally:
            self._scopes.pop()

    def _generate(self, generators: list[ast.comprehension], index: int, scope: dict[str, object],
                  emit: Callable[[], None]) -> None:
        if index == len(generators):
            emit()
            return
        generator = generators[index]
        for item in _iterable(self._eval(generator.iter)):
            self._tick()
            self._bind(generator.target, item, scope)
            if all(self._eval(condition) for condition in generator.ifs):
                self._generate(generators, index + 1, scope, emit)

    # calls ------------------------------------------------------------------------------------

    def _Call(self, node: ast.Call) -> object:
        func = node.func
        receiver = self._eval(func.value) if isinstance(func, ast.Attribute) else None
        args = [self._eval(arg) for arg in node.args]
        kwargs = {kw.arg: self._eval(kw.value) for kw in node.keywords}
        if isinstance(func, ast.Attribute):
            return self._method(func.attr, receiver, args)
        if func.id in _DEEP:
            self._weigh(args)
        allowed = _KEYWORDS.get(func.id, set())
        for name in kwargs:
            if name not in allowed:
                raise _Fail(f"{func.id}() does not take the keyword argument '{name}' here")
        return self._fit(getattr(self, "_call_" + func.id)(*args, **kwargs))

    def _method(self, name: str, receiver: object, args: list[object]) -> object:
        owner = METHODS[name]
        if not isinstance(receiver, owner):
            raise _Fail(f"'.{name}()' works on a {owner.__name__}, not on a {type(receiver).__name__}")
        if name == "join":
            items = list(_iterable(args[0])) if len(args) == 1 else []
            if not all(isinstance(item, str) for item in items):
                raise _Fail("'.join()' takes one list of strings")
            self._charge(sum(map(len, items)) + len(receiver) * max(len(items) - 1, 0))
        self._weigh(args)
        result = getattr(owner, name)(receiver, *args)
        if name in ("keys", "values", "items"):
            result = list(result)
        return self._fit(result)

    def _call_print(self, *args: object, sep: object = " ", end: object = "\n") -> None:
        if not isinstance(sep, str) or not isinstance(end, str):
            raise _Fail("print() sep and end must be strings")
        for arg in args:
            self._charge(text_size(arg, self._limits.max_len))
        text = sep.join(str(arg) for arg in args) + end
        self._out_len += len(text)
        if self._out_len > self._limits.max_len:
            raise _Fail(f"the preprocessor printed more than {self._limits.max_len} characters")
        self._out.append(text)

    def _call_range(self, *args: object) -> range:
        if not all(isinstance(arg, int) for arg in args):
            raise _Fail("range() takes integers")
        span = range(*args)
        try:
            size = len(span)
        except OverflowError:
            size = self._limits.max_len + 1
        if size > self._limits.max_len:
            raise _Fail(f"range() of more than {self._limits.max_len} numbers is not allowed")
        return span

    def _call_round(self, number: object, ndigits: object = None) -> object:
        if isinstance(ndigits, int) and abs(ndigits) > 100:
            raise _Fail("round() takes at most 100 digits")
        return round(number, ndigits)

    def _call_sum(self, items: object) -> object:
        return sum(_iterable(items))

    def _call_str(self, value: object = "") -> str:
        self._charge(text_size(value, self._limits.max_len))
        return str(value)

    _call_abs = staticmethod(abs)
    _call_bool = staticmethod(bool)
    _call_float = staticmethod(float)
    _call_int = staticmethod(int)
    _call_len = staticmethod(len)
    _call_min = staticmethod(min)
    _call_max = staticmethod(max)
    _call_all = staticmethod(lambda items: all(_iterable(items)))
    _call_any = staticmethod(lambda items: any(_iterable(items)))
    _call_list = staticmethod(lambda items=(): list(_iterable(items)))
    _call_tuple = staticmethod(lambda items=(): tuple(_iterable(items)))
    _call_dict = staticmethod(lambda items=(): dict(_iterable(items)))
    _call_sorted = staticmethod(lambda items, reverse=False: sorted(_iterable(items), reverse=bool(reverse)))


def _iterable(value: object) -> Iterable[object]:
    if not isinstance(value, _ITERABLE):
        raise _Fail(f"cannot loop over a {type(value).__name__}")
    return value


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"key {reprlib.repr(exc.args[0])} not found" if exc.args else "key not found"
    if isinstance(exc, IndexError):
        return "index out of range"
    if isinstance(exc, RecursionError):
        return "a value is nested too deeply"
    if isinstance(exc, MemoryError):
        return "out of memory"
    return str(exc) or type(exc).__name__


def evaluate(source: str, symbols: Mapping[str, object], limits: Limits = LIMITS) -> object:
    """Evaluate one preprocessor against ``symbols`` and return its result."""
    return Evaluator(symbols, limits).run(source)
