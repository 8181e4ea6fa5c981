"""Selections and derived variables as restricted expressions over columns.

An expression such as ``"mll > 12 & njet < 2"`` or ``"log(jet_pt)"`` is parsed with
:func:`ast.parse` and compiled, node by node, into small closures; the text is never given
to ``eval``, ``exec`` or ``compile``. Only these are allowed:

- column names (identifiers not starting with ``_``) and int, float or bool literals;
- arithmetic ``+ - * / // % **`` and unary ``+ -``;
- comparisons ``< <= > >= == !=``; a chain ``10 < mll < 50`` means
  ``(10 < mll) & (mll < 50)``;
- ``&``, ``|``, ``and``, ``or`` (the same operators), ``^``, ``~`` and ``not``;
- calls, with positional arguments only, of the functions in :data:`ALLOWED_FUNCTIONS`.

As in C++, ROOT and ``pandas.DataFrame.query``, ``&`` and ``|`` bind more loosely than
comparisons, so ``mll > 12 & njet < 2`` means ``(mll > 12) & (njet < 2)``. They act
element-wise: logical on booleans, bitwise on integers (``(jet_id & 2) > 0``); ``not`` is
always the logical negation. ``^`` keeps Python's tighter binding, so mixing it with
comparisons needs parentheses: ``(a > 1) ^ (b < 2)``.
"""

import ast
import difflib
import io
import operator
import tokenize
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial, reduce
from inspect import signature
from itertools import pairwise
from types import MappingProxyType
from typing import Any

import awkward as ak
import numpy as np

from heplearn.errors import ConfigError, InputError

MAX_LENGTH = 1000
MAX_DEPTH = 50

Compiled = Callable[[Mapping[str, Any]], Any]


def _per_event(name: str, reduction: Callable[..., Any]) -> Callable[[Any], Any]:
    """Wrap an awkward reduction so it reduces each event's list, filling empty lists with 0."""

    def reduce_lists(values: Any) -> Any:
        if getattr(values, "ndim", 0) < 2:
            raise InputError(f"{name}() reduces each event's list, but got one value per event")
        return ak.fill_none(reduction(values, axis=-1), 0)

    return reduce_lists


def _where(condition: Any, if_true: Any, if_false: Any) -> Any:
    arrays = (condition, if_true, if_false)
    if any(isinstance(array, ak.Array) for array in arrays):
        return ak.where(*arrays)
    return np.where(*arrays)


def _clip(values: Any, low: Any, high: Any) -> Any:
    return np.minimum(np.maximum(values, low), high)


_UFUNCS = (
    "abs", "sqrt", "log", "log10", "log1p", "exp", "expm1", "sin", "cos", "tan", "arcsin",
    "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh",
    "hypot", "minimum", "maximum", "sign", "floor", "ceil", "isfinite",
)  # fmt: skip
_REDUCTIONS = {
    "sum": ak.sum, "count": ak.count, "any": ak.any, "all": ak.all, "max": ak.max,
    "min": ak.min, "mean": partial(ak.mean, mask_identity=True), "first": ak.firsts,
}  # fmt: skip
ALLOWED_FUNCTIONS: Mapping[str, Callable[..., Any]] = MappingProxyType(
    {name: getattr(np, name) for name in _UFUNCS}
    | {"where": _where, "clip": _clip}
    | {name: _per_event(name, reduction) for name, reduction in _REDUCTIONS.items()}
)
"""The functions an expression may call, by name.

The numpy ufuncs act element by element on numpy and jagged awkward arrays alike, and so do
``where(condition, a, b)`` and ``clip(x, low, high)``. ``sum count any all max min mean``
reduce each event's list to one value (``sum(part_pt)`` is the scalar pT sum) and
``first(x)`` takes its leading element; an empty list gives 0 (``any`` False, ``all`` True).
"""

_ARITY = {
    name: function.nin if isinstance(function, np.ufunc) else len(signature(function).parameters)
    for name, function in ALLOWED_FUNCTIONS.items()
}


def _power(base: Any, exponent: Any) -> Any:
    # Python integers would compute 9**9**9 exactly, for ever; floats overflow at once.
    if isinstance(base, int) and isinstance(exponent, int):
        base = float(base)
    return base**exponent


_OPERATORS: dict[type[ast.AST], Callable[..., Any]] = {
    ast.UAdd: operator.pos, ast.USub: operator.neg, ast.Invert: operator.invert,
    ast.Not: np.logical_not, ast.Add: operator.add, ast.Sub: operator.sub,
    ast.Mult: operator.mul, ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod, ast.Pow: _power, ast.BitAnd: operator.and_, ast.BitOr: operator.or_,
    ast.BitXor: operator.xor, ast.And: operator.and_, ast.Or: operator.or_, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}  # fmt: skip
_FORBIDDEN: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access", ast.Subscript: "subscripts",
    ast.Lambda: "lambda functions", ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions", ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions", ast.JoinedStr: "f-strings",
    ast.NamedExpr: "assignments (:=)", ast.Starred: "starred arguments",
    ast.IfExp: "if-else (use where(condition, a, b))", ast.List: "lists",
    ast.Tuple: "tuples", ast.Dict: "dicts", ast.Set: "sets", ast.Is: "the operator 'is'",
    ast.IsNot: "the operator 'is not'", ast.In: "the operator 'in'",
    ast.NotIn: "the operator 'not in'", ast.LShift: "the operator '<<'",
    ast.RShift: "the operator '>>'", ast.MatMult: "the operator '@'",
}  # fmt: skip
_LITERALS = {str: "strings", bytes: "bytes", complex: "complex numbers", type(None): "None"}
_ALLOWED = (
    "use column names, int/float/bool numbers, + - * / // % **, comparisons, & | ^ ~ and or "
    f"not, and the functions {', '.join(ALLOWED_FUNCTIONS)}"
)
_COMPARISON_TOKENS = frozenset({"<", "<=", ">", ">=", "==", "!="})


@dataclass(frozen=True)
class Expression:
    """A parsed expression, ready to evaluate on chunk after chunk of columns.

    Create one with :func:`parse_expression`.

    Attributes
    ----------
    text : str
        The expression, stripped of surrounding whitespace.
    names : frozenset of str
        The column (branch) names it reads; function names are not included.
    """

    text: str
    names: frozenset[str]
    _function: Compiled = field(repr=False, compare=False)

    def evaluate(self, columns: Mapping[str, Any]) -> Any:
        """Evaluate the expression on columns.

        Parameters
        ----------
        columns : Mapping[str, Any]
            Column name to numpy array (one value per event) or awkward array (a list per
            event); they broadcast as numpy and awkward do. Extra columns are ignored.

        Returns
        -------
        Any
            A numpy or awkward array, or a scalar if the expression reads no column.

        Raises
        ------
        InputError
            If a column it reads is missing (close matches are suggested), or the columns
            cannot be combined as the expression asks (shapes, types, division by zero).
        """
        missing = sorted(name for name in self.names if name not in columns)
        if missing:
            hints = [
                f"{name!r} (did you mean {', '.join(map(repr, close))}?)" if close else repr(name)
                for name in missing
                for close in [difflib.get_close_matches(name, list(columns), n=3)]
            ]
            raise InputError(
                f"expression {self.text!r} reads column(s) not in the input: {', '.join(hints)}"
            )
        try:
            # NaN and inf are reported by the dataset checks with the column and event
            # count, which says more than numpy's warning would.
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                return self._function(columns)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError) as error:
            raise InputError(f"cannot evaluate expression {self.text!r}: {error}") from error

    def __reduce__(self) -> tuple[Callable[[str], "Expression"], tuple[str]]:
        # Closures do not pickle; data-loader workers rebuild the expression from its text.
        return parse_expression, (self.text,)


def parse_expression(text: str) -> Expression:
    """Parse and compile a selection or derived-variable expression.

    Parameters
    ----------
    text : str
        For example ``"mll > 12 & njet < 2"`` or ``"hypot(part_px, part_py)"``; see the
        module docstring for what is allowed.

    Returns
    -------
    Expression
        The compiled expression.

    Raises
    ------
    ConfigError
        If the text is not a string, is empty, longer than 1000 characters, nested more than
        50 levels deep, not valid syntax, or uses anything not allowed; the message quotes the
        expression and says what is allowed.
    """
    if not isinstance(text, str):
        raise ConfigError(f"an expression must be a string, got {type(text).__name__} {text!r}")
    text = text.strip()
    if not text:
        raise ConfigError("an expression is empty; write e.g. 'mll > 12' or 'log(jet_pt)'")
    if len(text) > MAX_LENGTH:
        raise ConfigError(
            f"expression {text[:60]!r}... is {len(text)} characters long; at most {MAX_LENGTH}"
        )
    try:
        source = _rewrite_boolean_operators(text)
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, tokenize.TokenError):
        raise _syntax_error(text) from None
    names: set[str] = set()
    function = _Compiler(text, source, names).compile(tree.body, depth=0)
    return Expression(text, frozenset(names), function)


def _rewrite_boolean_operators(text: str) -> str:
    """Turn ``&`` and ``|`` into ``and`` and ``or``, which bind more loosely than comparisons.

    Refuses ``^`` next to a comparison in the same parentheses, which Python would group
    as ``a > (1 ^ b)``.
    """
    line_starts = [0] + [index + 1 for index, char in enumerate(text) if char == "\n"]
    replacements: list[tuple[int, str]] = []
    groups: list[set[str]] = [set()]
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        word = token.string
        if word in ("(", "[", "{"):
            groups.append(set())
        elif word in (")", "]", "}") and len(groups) > 1:
            groups.pop()
        elif word in ("&", "|", "and", "or", ","):
            groups[-1] = set()
        elif word == "^" or word in _COMPARISON_TOKENS:
            groups[-1].add("^" if word == "^" else "comparison")
            if len(groups[-1]) == 2:
                raise ConfigError(
                    f"expression {text!r} mixes '^' with a comparison; '^' binds more tightly, "
                    "so add parentheses, e.g. '(a > 1) ^ (b < 2)' or '(a ^ b) == 0'"
                )
        if word in ("&", "|"):
            line, column = token.start
            keyword = " and " if word == "&" else " or "
            replacements.append((line_starts[line - 1] + column, keyword))
    for position, keyword in reversed(replacements):
        text = text[:position] + keyword + text[position + 1 :]
    return text


def _syntax_error(text: str) -> ConfigError:
    try:
        ast.parse(text, mode="eval")
    except SyntaxError as error:
        line = f"line {error.lineno}, " if "\n" in text else ""
        where = f"{line}column {error.offset}" if error.offset else "the end"
        return ConfigError(f"cannot parse expression {text!r}: {error.msg} at {where}")
    except ValueError as error:
        return ConfigError(f"cannot parse expression {text!r}: {error}")
    return ConfigError(f"cannot parse expression {text!r}")


class _Compiler:
    """Turn an expression's syntax tree into nested closures, refusing what is not allowed."""

    def __init__(self, text: str, source: str, names: set[str]) -> None:
        self.text, self.source, self.names = text, source, names

    def refuse(self, problem: str, node: ast.AST | None = None) -> ConfigError:
        segment = ast.get_source_segment(self.source, node) if node is not None else None
        return ConfigError(
            f"expression {self.text!r} uses {problem}"
            + (f" in {segment.strip()!r}" if segment else "")
            + f", which is not allowed; {_ALLOWED}"
        )

    def operator(self, op: ast.AST, node: ast.AST) -> Callable[..., Any]:
        if type(op) in _FORBIDDEN:
            raise self.refuse(_FORBIDDEN[type(op)], node)
        return _OPERATORS[type(op)]

    def compile(self, node: ast.AST, depth: int) -> Compiled:
        if depth > MAX_DEPTH:
            raise ConfigError(f"expression {self.text!r} is nested more than {MAX_DEPTH} deep")
        if type(node) in _FORBIDDEN:
            raise self.refuse(_FORBIDDEN[type(node)], node)
        depth += 1
        match node:
            case ast.Name(id=name):
                if name.startswith("_"):
                    raise self.refuse(f"the name {name!r} (names may not start with '_')")
                self.names.add(name)
                return lambda columns: columns[name]
            case ast.Constant(value=value):
                if type(value) not in (int, float, bool):
                    raise self.refuse(_LITERALS.get(type(value), repr(value)), node)
                return lambda columns: value
            case ast.UnaryOp(op=op, operand=operand):
                unary, inner = self.operator(op, node), self.compile(operand, depth)
                return lambda columns: unary(inner(columns))
            case ast.BinOp(op=op, left=left, right=right):
                binary = self.operator(op, node)
                first, second = self.compile(left, depth), self.compile(right, depth)
                return lambda columns: binary(first(columns), second(columns))
            case ast.BoolOp(op=op, values=values):
                combine, parts = self.operator(op, node), [self.compile(v, depth) for v in values]
                return lambda columns: reduce(combine, (part(columns) for part in parts))
            case ast.Compare(left=left, ops=ops, comparators=comparators):
                tests = [self.operator(op, node) for op in ops]
                operands = [self.compile(operand, depth) for operand in (left, *comparators)]
                return lambda columns: _compare_chain(tests, [o(columns) for o in operands])
            case ast.Call(func=ast.Name(id=name), args=args, keywords=[]):
                if name not in ALLOWED_FUNCTIONS:
                    raise self.refuse(f"the unknown function {name!r}", node)
                if len(args) != _ARITY[name]:
                    raise self.refuse(f"{name}() with {len(args)} argument(s), not {_ARITY[name]}")
                function, compiled = ALLOWED_FUNCTIONS[name], [self.compile(a, depth) for a in args]
                return lambda columns: function(*(argument(columns) for argument in compiled))
            case ast.Call(keywords=[_, *_]):
                raise self.refuse("keyword arguments", node)
            case ast.Call(func=func):
                self.compile(func, depth)
                raise self.refuse("a call of something other than a function name", node)
        raise self.refuse(f"{type(node).__name__} syntax", node)


def _compare_chain(tests: list[Callable[[Any, Any], Any]], values: list[Any]) -> Any:
    return reduce(
        operator.and_, (test(*pair) for test, pair in zip(tests, pairwise(values), strict=True))
    )
