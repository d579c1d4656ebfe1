"""The safe expression language of `successCondition` / `failureCondition`.

A condition is parsed with Python's `ast` and evaluated by walking a whitelist of node types; no
Python code ever runs, so `__import__('os')`, attribute access, lambdas, comprehensions and strings
are rejected when the template is validated (so `serinus lint` catches them, not the run).

Values are numbers, booleans and lists of them. `result` is always the list of floats a provider
returned. Semantics, chosen to read like Argo Rollouts conditions:

- `result[0]`, `result[-1]`: indexing; an index past the end is an evaluation error.
- Arithmetic and comparisons between a list and a number, or two lists of the same length, work
  element-wise (`all(result >= 0.99)`), so no lambdas or comprehensions are needed.
- A list holding exactly one value behaves as that value where one value is needed: in `and`,
  `or`, `not` and as the condition's outcome (`result < 0.05` on a one-value result). A condition
  that yields several values or none is an evaluation error ("use all() or any()").
- Functions: `len`, `isNaN`, `isInf` (element-wise), `abs` (element-wise), `all`, `any`, `min`,
  `max`, `sum` (over one list, or over several arguments).
- Constants: numbers, `true`/`false` (and Python's `True`/`False`); `&&`, `||` and `!` are
  accepted as spellings of `and`, `or` and `not`.

Comparisons with NaN are false, as in IEEE 754; the run logic separately makes sure that an empty or
NaN result is never judged Successful.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

Scalar: TypeAlias = float | bool
Value: TypeAlias = Scalar | list[Scalar]

MAX_LENGTH = 1000
_NAMES: dict[str, Value] = {"true": True, "false": False}
_ALIASES = (("&&", " and "), ("||", " or "))


class ExpressionError(ValueError):
    """A condition that is not valid in the expression language (raised at validation time)."""


class EvaluationError(ValueError):
    """A valid condition that cannot be evaluated on this result (empty list, bad index, ...)."""


def _pointer(source: str, offset: int | None) -> str:
    if offset is None:
        return f"  {source}"
    return f"  {source}\n  {' ' * offset}^"


def _translate(text: str) -> tuple[str, list[int]]:
    """Rewrite `&&`, `||` and `!` to Python, keeping a map back to the original offsets."""
    out: list[str] = []
    origin: list[int] = []
    i = 0
    while i < len(text):
        replaced = False
        for alias, python in _ALIASES:
            if text.startswith(alias, i):
                out.append(python)
                origin.extend([i] * len(python))
                i += len(alias)
                replaced = True
                break
        if replaced:
            continue
        if text[i] == "!" and not text.startswith("!=", i):
            out.append(" not ")
            origin.extend([i] * 5)
        else:
            out.append(text[i])
            origin.append(i)
        i += 1
    origin.append(len(text))
    translated = "".join(out)
    lead = len(translated) - len(translated.lstrip())  # Python rejects leading spaces
    return translated[lead:], origin[lead:]


_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_COMPARE: dict[type[ast.cmpop], Callable[[float, float], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
# name -> (minimum arguments, maximum arguments or None for any)
_FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "len": (1, 1),
    "isNaN": (1, 1),
    "isInf": (1, 1),
    "abs": (1, 1),
    "all": (1, 1),
    "any": (1, 1),
    "min": (1, None),
    "max": (1, None),
    "sum": (1, None),
}


@dataclass(frozen=True)
class Condition:
    """A validated condition; `evaluate(result)` gives True or False or raises EvaluationError."""

    source: str
    _tree: ast.Expression
    _origin: tuple[int, ...]

    def evaluate(self, result: Sequence[float]) -> bool:
        evaluator = _Evaluator(self, [float(v) for v in result])
        try:
            value = evaluator.visit(self._tree.body)
        except (ZeroDivisionError, OverflowError, ValueError, RecursionError) as exc:
            if isinstance(exc, EvaluationError):
                raise
            raise EvaluationError(f"{exc} in:\n{_pointer(self.source, None)}") from exc
        return _as_bool(value, "the condition", self, self._tree.body)

    def position(self, node: ast.AST) -> int | None:
        col = getattr(node, "col_offset", None)
        if not isinstance(col, int):
            return None
        return self._origin[min(col, len(self._origin) - 1)]

    def error(self, message: str, node: ast.AST) -> EvaluationError:
        return EvaluationError(f"{message} in:\n{_pointer(self.source, self.position(node))}")


def parse_condition(text: str) -> Condition:
    """Parse and check a condition; raises ExpressionError showing the expression and position."""
    if not text.strip():
        raise ExpressionError("empty condition")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"condition longer than {MAX_LENGTH} characters")
    if "\n" in text.strip():
        raise ExpressionError(f"a condition is one line:\n{_pointer(text, None)}")
    translated, origin = _translate(text.strip())
    source = text.strip()
    try:
        tree = ast.parse(translated, mode="eval")
    except SyntaxError as exc:
        # Python reports offset 0 when the expression ends too early
        col = exc.offset - 1 if exc.offset else len(translated)
        where = origin[min(max(col, 0), len(origin) - 1)]
        reason = exc.msg.removesuffix(" (<unknown>, line 1)")
        raise ExpressionError(
            f"syntax error at column {where + 1}: {reason}:\n{_pointer(source, where)}"
        ) from exc
    condition = Condition(source, tree, tuple(origin))
    try:
        _check(condition, tree.body)
    except RecursionError as exc:
        raise ExpressionError(f"condition nested too deeply:\n{_pointer(source, None)}") from exc
    return condition


def _reject(condition: Condition, node: ast.AST, what: str) -> ExpressionError:
    where = condition.position(node)
    column = f" at column {where + 1}" if where is not None else ""
    return ExpressionError(f"{what} is not allowed{column}:\n{_pointer(condition.source, where)}")


def _check(condition: Condition, node: ast.AST) -> None:
    """Walk the tree once at validation time; anything not whitelisted is rejected."""
    match node:
        case ast.Constant(value=value):
            if isinstance(value, bool) or (
                isinstance(value, int | float) and not isinstance(value, complex)
            ):
                return
            raise _reject(condition, node, f"the constant {value!r} (only numbers and booleans)")
        case ast.Name(id=name):
            if name != "result" and name not in _NAMES:
                raise _reject(condition, node, f"the name {name!r} (use result, true, false)")
        case ast.BoolOp(values=values):
            for value in values:
                _check(condition, value)
        case ast.UnaryOp(op=ast.Not() | ast.USub() | ast.UAdd(), operand=operand):
            _check(condition, operand)
        case ast.BinOp(op=op, left=left, right=right) if type(op) in _BINARY:
            _check(condition, left)
            _check(condition, right)
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            for comparison in ops:
                if type(comparison) not in _COMPARE:
                    raise _reject(condition, node, f"the operator {type(comparison).__name__}")
            _check(condition, left)
            for comparator in comparators:
                _check(condition, comparator)
        case ast.Subscript(value=value, slice=index):
            if isinstance(index, ast.Slice):
                raise _reject(condition, node, "slicing")
            _check(condition, value)
            _check(condition, index)
        case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if name in _FUNCTIONS:
            low, high = _FUNCTIONS[name]
            if len(args) < low or (high is not None and len(args) > high):
                expected = str(low) if high == low else f"at least {low}"
                raise _reject(condition, node, f"{name}() with {len(args)} arguments ({expected})")
            for arg in args:
                if isinstance(arg, ast.Starred):
                    raise _reject(condition, arg, "unpacking")
                _check(condition, arg)
        case ast.Call():
            raise _reject(condition, node, "this call (functions: " + ", ".join(_FUNCTIONS) + ")")
        case ast.List(elts=elements) | ast.Tuple(elts=elements):
            for element in elements:
                _check(condition, element)
        case ast.Attribute():
            raise _reject(condition, node, "attribute access")
        case ast.Lambda():
            raise _reject(condition, node, "a lambda")
        case ast.ListComp() | ast.SetComp() | ast.DictComp() | ast.GeneratorExp():
            raise _reject(condition, node, "a comprehension")
        case _:
            raise _reject(condition, node, f"the construct {type(node).__name__}")


def _as_bool(value: Value, what: str, condition: Condition, node: ast.AST) -> bool:
    if isinstance(value, list):
        if len(value) != 1:
            raise condition.error(
                f"{what} gives {len(value)} values, not one; use all(...) or any(...)", node
            )
        value = value[0]
    if isinstance(value, bool):
        return value
    raise condition.error(f"{what} gives the number {value}, not true or false", node)


def _as_number(value: Value, condition: Condition, node: ast.AST) -> float:
    if isinstance(value, list):
        if len(value) != 1:
            raise condition.error(f"expected one number, got a list of {len(value)}", node)
        value = value[0]
    return float(value)


def _elementwise(
    left: Value,
    right: Value,
    apply: Callable[[float, float], Scalar],
    cond: Condition,
    node: ast.AST,
) -> Value:
    if isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            raise cond.error(f"lists of different lengths ({len(left)} and {len(right)})", node)
        return [apply(float(a), float(b)) for a, b in zip(left, right, strict=True)]
    if isinstance(left, list):
        return [apply(float(a), float(right)) for a in left]  # type: ignore[arg-type]
    if isinstance(right, list):
        return [apply(float(left), float(b)) for b in right]
    return apply(float(left), float(right))


def _map(value: Value, apply: Callable[[float], Scalar]) -> Value:
    if isinstance(value, list):
        return [apply(float(v)) for v in value]
    return apply(float(value))


def _as_list(args: list[Value]) -> list[Scalar]:
    if len(args) == 1 and isinstance(args[0], list):
        return args[0]
    flat: list[Scalar] = []
    for arg in args:
        flat.extend(arg if isinstance(arg, list) else [arg])
    return flat


class _Evaluator:
    def __init__(self, condition: Condition, result: list[float]) -> None:
        self.condition = condition
        self.result: list[Scalar] = list(result)

    def visit(self, node: ast.AST) -> Value:
        cond = self.condition
        match node:
            case ast.Constant(value=bool() as flag):
                return flag
            case ast.Constant(value=int() | float() as number):
                return float(number)
            case ast.Name(id="result"):
                return list(self.result)
            case ast.Name(id=name):
                return _NAMES[name]
            case ast.BoolOp(op=ast.And(), values=values):
                return all(_as_bool(self.visit(v), "an operand of and", cond, v) for v in values)
            case ast.BoolOp(op=ast.Or(), values=values):
                return any(_as_bool(self.visit(v), "an operand of or", cond, v) for v in values)
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                return not _as_bool(self.visit(operand), "the operand of not", cond, operand)
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                return _map(self.visit(operand), operator.neg)
            case ast.UnaryOp(op=ast.UAdd(), operand=operand):
                return _map(self.visit(operand), float)
            case ast.BinOp(op=op, left=left, right=right):
                apply = _BINARY[type(op)]
                return _elementwise(self.visit(left), self.visit(right), apply, cond, node)
            case ast.Compare(left=left, ops=ops, comparators=comparators):
                return self._compare(node, left, ops, comparators)
            case ast.Subscript(value=value, slice=index):
                return self._index(node, self.visit(value), self.visit(index))
            case ast.Call(func=ast.Name(id=name), args=args):
                return self._call(node, name, [self.visit(a) for a in args])
            case ast.List(elts=elements) | ast.Tuple(elts=elements):
                items: list[Scalar] = []
                for element in elements:
                    item = self.visit(element)
                    items.extend(item if isinstance(item, list) else [item])
                return items
        raise cond.error(f"cannot evaluate {type(node).__name__}", node)  # unreachable: checked

    def _compare(
        self, node: ast.AST, left: ast.expr, ops: list[ast.cmpop], comparators: list[ast.expr]
    ) -> Value:
        current = self.visit(left)
        outcome: Value | None = None
        for op, right_node in zip(ops, comparators, strict=True):
            right = self.visit(right_node)
            step = _elementwise(current, right, _COMPARE[type(op)], self.condition, node)
            outcome = (
                step
                if outcome is None
                else _elementwise(
                    outcome, step, lambda a, b: bool(a) and bool(b), self.condition, node
                )
            )
            current = right
        assert outcome is not None  # a Compare node has at least one operator
        return outcome

    def _index(self, node: ast.AST, value: Value, index: Value) -> Value:
        if not isinstance(value, list):
            raise self.condition.error("only lists can be indexed", node)
        position = _as_number(index, self.condition, node)
        if not position.is_integer():
            raise self.condition.error(f"index {position} is not a whole number", node)
        i = int(position)
        if not -len(value) <= i < len(value):
            raise self.condition.error(
                f"index {i} is out of range: the list has {len(value)} values", node
            )
        return value[i]

    def _call(self, node: ast.AST, name: str, args: list[Value]) -> Value:
        match name:
            case "len":
                if not isinstance(args[0], list):
                    raise self.condition.error("len() needs a list", node)
                return float(len(args[0]))
            case "isNaN":
                return _map(args[0], math.isnan)
            case "isInf":
                return _map(args[0], math.isinf)
            case "abs":
                return _map(args[0], abs)
            case "all":
                return all(bool(v) for v in _as_list(args))
            case "any":
                return any(bool(v) for v in _as_list(args))
        values = [float(v) for v in _as_list(args)]
        if name == "sum":
            return math.fsum(values)
        if not values:
            raise self.condition.error(f"{name}() of an empty list", node)
        return min(values) if name == "min" else max(values)
