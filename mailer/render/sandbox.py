"""The Jinja sandbox issue authors write in, and the plain data it may see.

Issue authors are trusted with words, not with the server. Jinja's
SandboxedEnvironment already refuses ``_``-prefixed attributes (so
``__class__``, ``__globals__``, ``self._TemplateReference__context``) and
unsafe ``str.format`` lookups; what it leaves open is whatever the context
holds (a ``Path`` in the context was enough to read /etc/passwd) and
resource use. So contexts are checked to be plain data (``plain``) and the
operators and filters that can make a huge value from a short expression
are bounded here.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import string
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from contextvars import ContextVar
from typing import Any

from jinja2 import StrictUndefined, Template, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

MAX_TEXT = 1_000_000  # characters any one value may grow to
MAX_ITEMS = 100_000  # items of a range or a repeated list
MAX_ARG = 10_000  # widths, counts and lengths given to filters
MAX_OUTPUT = 2_000_000  # characters one template may write
_BIG_NUMBER = 4096  # bits an integer power may produce
MAX_STEPS = 1_000_000  # loop bodies and macro calls one render may run
MAX_MADE = 20_000_000  # characters (or items) all operations of one render may make
# CPU seconds one render may take: steps differ in cost (``x in a_long_list``),
# so the clock is read at each step, filter and call too.
MAX_SECONDS = 10.0
_WIDE_SPEC = re.compile(r"\d{5,}|\{")  # a format width/precision of 10,000 or more
# %-format with a width or precision of 10,000 or more, or given as '*'.
_PERCENT_WIDTH = re.compile(r"%(?:\([^)]*\))?[-+ #0]*(?:\*|\d{5,}|\d*\.(?:\*|\d{5,}))")
_SCALAR = (str, int, float, bool, dt.date, type(None))


class Fields(dict[str, Any]):
    """A dict that names itself in errors ("subscriber has no field …")."""

    def __init__(self, label: str, hint: str = "", *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._label = label
        self._hint = hint


class OpenFields(Fields):
    """Any key is a field: ``subscriber.attributes.country`` for every attribute."""

    def __init__(self, label: str, make: Callable[[str], str]) -> None:
        super().__init__(label)
        self._make = make

    def __missing__(self, key: str) -> str:
        if not isinstance(key, str) or key.startswith("_"):
            raise KeyError(key)
        return self._make(key)


class FieldUndefined(StrictUndefined):
    """StrictUndefined that says which context dict lacked the field."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        obj = self._undefined_obj
        if isinstance(obj, Fields) and isinstance(self._undefined_name, str):
            hint = f" ({obj._hint})" if obj._hint else ""
            return f"{obj._label} has no field {self._undefined_name!r}{hint}"
        return str(super()._undefined_message)


def plain(value: Any, where: str = "context") -> Any:
    """``value`` if it is plain data all the way down; TypeError naming the path otherwise."""
    if isinstance(value, _SCALAR) and not isinstance(value, dt.datetime | dt.time):
        return value
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            plain(item, f"{where}[{i}]")
        return value
    if isinstance(value, Mapping) and type(value) in (dict, Fields, OpenFields):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: key {key!r} is not text")
            plain(item, f"{where}.{key}")
        return value
    raise TypeError(f"{where}: {type(value).__name__} is not plain data")


def _too_long(n: float) -> bool:
    return n > MAX_TEXT


class _Budget:
    """What one render may still spend: nested loops that write nothing and
    values made in a loop and kept (``list.append``) are bounded here, since
    no single operation is too large."""

    __slots__ = ("deadline", "made", "steps", "ticks")

    def __init__(self) -> None:
        self.steps = MAX_STEPS
        self.made = MAX_MADE
        self.ticks = 0
        self.deadline = time.thread_time() + MAX_SECONDS  # this thread's CPU time

    def check_time(self) -> None:
        self.ticks += 1
        if self.ticks % 128 == 0 and time.thread_time() > self.deadline:
            raise SecurityError(f"the template took over {MAX_SECONDS:g} seconds of CPU")


_budget: ContextVar[_Budget | None] = ContextVar("mailer_render_budget", default=None)


def _step(cost: int) -> None:
    budget = _budget.get()
    if budget is not None:
        budget.steps -= cost
        if budget.steps < 0:
            raise SecurityError(f"the template ran over {MAX_STEPS:,} loop or macro steps")
        budget.check_time()


def _made(value: Any) -> Any:
    """``value``, charged to the render's budget when it is text or a sequence."""
    budget = _budget.get()
    if budget is not None:
        budget.check_time()
        if isinstance(value, str | list | tuple):
            budget.made -= len(value)
            if budget.made < 0:
                raise SecurityError(f"the template made over {MAX_MADE:,} characters in all")
    return value


def _text_size(value: Any, limit: int = MAX_TEXT) -> int:
    """About how long ``str(value)`` is, counted only until past ``limit``.

    A list holding one long string many times is cheap to make and huge as
    text (``{{ ['x' * 999999] * 99999 }}``), so containers are measured
    before they are turned into text.
    """
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, Mapping):
            total += 2 + 2 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, Collection) and not isinstance(item, bytes | range):
            total += 2 + len(item)
            stack.extend(item)
        else:
            total += 8
    return total


def _check_text(value: Any, what: str) -> Any:
    if not isinstance(value, str) and _too_long(_text_size(value)):
        raise SecurityError(f"{what}: a value of over {MAX_TEXT:,} characters as text")
    return value


def _bounded_range(*args: int) -> range:
    items = range(*args)
    if len(items) > MAX_ITEMS:
        raise SecurityError(f"range() of {len(items):,} items (at most {MAX_ITEMS:,})")
    return items


_SIZE_FILTERS = {"center", "indent", "wordwrap", "truncate", "batch", "slice"}
# Filters that only count, pick or reorder items: they never turn a value into text.
_STRUCTURAL = {
    "length",
    "count",
    "first",
    "last",
    "random",
    "list",
    "sort",
    "unique",
    "reverse",
    "select",
    "reject",
    "selectattr",
    "rejectattr",
    "map",
    "batch",
    "slice",
    "groupby",
    "dictsort",
    "items",
    "default",
    "d",
    "attr",
    "min",
    "max",
    "abs",
    "int",
    "float",
}
# str methods that can make much more text than they are given.
_GROWING_METHODS = {
    "ljust",
    "rjust",
    "center",
    "zfill",
    "expandtabs",
    "replace",
    "join",
    "translate",
}


def _precheck(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse before computing what would make a huge value."""
    extra = (*args, *kwargs.values())
    if name not in _STRUCTURAL:
        for item in (value, *extra):
            _check_text(item, f"|{name}")
    if name == "sum" and not all(isinstance(n, int | float) for n in kwargs.values()):
        _check_text(value, "|sum")  # sum(start=[]) concatenates, in quadratic time
    if name in _SIZE_FILTERS:
        for n in extra:
            if isinstance(n, int) and not isinstance(n, bool) and abs(n) > MAX_ARG:
                raise SecurityError(f"|{name}: {n:,} is too large (at most {MAX_ARG:,})")
    elif name == "format" and isinstance(value, str) and _PERCENT_WIDTH.search(value):
        raise SecurityError("|format with a width of 10,000 or more")
    elif name == "replace" and isinstance(value, str) and _too_long(_replaced_size(value, args)):
        raise SecurityError("|replace would make more than a million characters")
    elif name == "join" and isinstance(value, list | tuple | range) and args:
        joined = len(value) * len(str(args[0]))
        if _too_long(joined):
            raise SecurityError(f"|join would make {joined:,} characters (at most {MAX_TEXT:,})")


def _replaced_size(value: str, args: tuple[Any, ...]) -> int:
    if len(args) < 2:
        return len(value)
    old, new = str(args[0]), str(args[1])
    return len(value) + (value.count(old) if old else len(value) + 1) * len(new)


def _guard(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """The filter ``fn`` with its arguments checked first and its text result bounded."""
    skip = 1 if hasattr(fn, "jinja_pass_arg") else 0  # context / eval context first

    def guarded(*args: Any, **kwargs: Any) -> Any:
        if len(args) > skip:
            _precheck(name, args[skip], args[skip + 1 :], kwargs)
        result = fn(*args, **kwargs)
        if isinstance(result, str) and _too_long(len(result)):
            raise SecurityError(f"|{name} made {len(result):,} characters (at most {MAX_TEXT:,})")
        return _made(result)

    if skip:
        guarded.jinja_pass_arg = fn.jinja_pass_arg  # type: ignore[attr-defined]
    return guarded


def _binop_problem(operator: str, left: Any, right: Any) -> str | None:
    """Why ``left operator right`` would make a huge value, before it is computed."""
    sized = (str, list, tuple)
    if operator == "*":
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, sized) and isinstance(n, int):
                unit, limit = (
                    ("characters", MAX_TEXT) if isinstance(seq, str) else ("items", MAX_ITEMS)
                )
                if len(seq) * n > limit:
                    return f"'*' would make {len(seq) * n:,} {unit} (at most {limit:,})"
                if not isinstance(seq, str) and n > 0 and _too_long(_text_size(seq) * n):
                    return f"'*' would make a list of over {MAX_TEXT:,} characters as text"
        ints = isinstance(left, int) and isinstance(right, int)
        if ints and left.bit_length() + right.bit_length() > _BIG_NUMBER:
            return f"'*' would make a number of over {_BIG_NUMBER} bits"
    elif operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1:
        if right * math.log2(abs(left)) > _BIG_NUMBER:
            return f"'**' would make a number of over {_BIG_NUMBER} bits"
    elif operator == "%" and isinstance(left, str) and _PERCENT_WIDTH.search(left):
        return "'%' format with a width of 10,000 or more"
    elif operator == "%" and isinstance(left, str) and _too_long(_text_size(right)):
        return f"'%' of a value of over {MAX_TEXT:,} characters as text"
    elif operator == "+" and isinstance(left, sized) and isinstance(right, sized):
        total = len(left) + len(right)
        return f"'+' would make {total:,} items" if _too_long(total) else None
    return None


class _BoundedCodeGenerator(CodeGenerator):
    """``a ~ b`` is not an intercepted operator: check its result instead.

    Its operands are bounded already, so one concatenation makes at most a
    few times MAX_TEXT before it is refused (a doubling loop stops at once).
    """

    # Every loop body and macro body spends a step of the render's budget:
    # the first block visited after entering one of these nodes is its body.
    # A macro call costs about 30 loop steps, and is charged so.
    _count_next_block = 0

    def blockvisit(self, nodes_: Iterable[nodes.Node], frame: Frame) -> None:
        if self._count_next_block:
            self.writeline(f"environment.step({self._count_next_block})")
            self._count_next_block = 0
        super().blockvisit(nodes_, frame)

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        self._count_next_block = 1
        super().visit_For(node, frame)

    def visit_Macro(self, node: nodes.Macro, frame: Frame) -> None:
        self._count_next_block = 30
        super().visit_Macro(node, frame)

    def visit_CallBlock(self, node: nodes.CallBlock, frame: Frame) -> None:
        self._count_next_block = 30
        super().visit_CallBlock(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # Each operand is measured before it becomes text, then the result.
        node.nodes = [
            nodes.Call(nodes.EnvironmentAttribute("textual"), [n], [], None, None, lineno=n.lineno)
            for n in node.nodes
        ]
        self.write("environment.bounded_text(")
        super().visit_Concat(node, frame)
        self.write(")")


class AuthorSandbox(SandboxedEnvironment):
    """SandboxedEnvironment with bounded operators, ranges, filters and formats."""

    intercepted_binops = frozenset(["*", "**", "%", "+"])
    code_generator_class = _BoundedCodeGenerator

    @staticmethod
    def bounded_text(value: str) -> str:
        if _too_long(len(value)):
            raise SecurityError(f"'~' made {len(value):,} characters (at most {MAX_TEXT:,})")
        _made(value)
        return value

    @staticmethod
    def textual(value: Any) -> Any:
        return _check_text(value, "'~'")

    @staticmethod
    def step(cost: int) -> None:
        _step(cost)

    def __init__(self, **options: Any) -> None:
        options.setdefault("undefined", FieldUndefined)
        options.setdefault("finalize", lambda value: _check_text(value, "output"))
        super().__init__(**options)
        # lipsum(n=10**6) writes a book; the others are harmless but unneeded.
        for name in ("lipsum",):
            self.globals.pop(name, None)
        self.globals["range"] = _bounded_range
        self.filters = {name: _guard(name, fn) for name, fn in self.filters.items()}

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """A call from the template: str methods that grow text are checked first."""
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str) and getattr(__obj, "__name__", "") in _GROWING_METHODS:
            args = _check_str_method(owner, __obj.__name__, args, kwargs)
        return _made(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        problem = _binop_problem(operator, left, right)
        if problem:
            raise SecurityError(problem)
        return _made(super().call_binop(context, operator, left, right))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` as Jinja sandboxes it, refusing huge widths first."""
        format_call = super().wrap_str_format(value)
        if format_call is None:
            return None
        for _text, _field, spec, _conv in string.Formatter().parse(value.__self__):
            if spec and _WIDE_SPEC.search(spec):
                raise SecurityError(f"format spec {spec!r}: too wide, or a nested field")

        def bounded(*args: Any, **kwargs: Any) -> str:
            for arg in (*args, *kwargs.values()):
                _check_text(arg, "format")
            return self.bounded_text(format_call(*args, **kwargs))

        return bounded


def _check_str_method(
    text: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    """Refuse ``text.name(*args)`` before it makes over MAX_TEXT characters; the args to use."""
    given = (*args, *kwargs.values())
    if name == "join" and args:
        items = list(args[0]) if not isinstance(args[0], list | tuple) else args[0]
        size = _text_size(items) + len(text) * len(items)
        args = (items, *args[1:])
    elif name == "replace":
        size = _replaced_size(text, given)
    elif name == "expandtabs":
        tab = given[0] if given and isinstance(given[0], int) else 8
        size = len(text) + text.count("\t") * max(tab, 0)
    elif name == "translate":
        table = given[0] if given else {}
        widest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
        size = len(text) * widest if isinstance(table, Mapping) else len(text)
    else:  # ljust, rjust, center, zfill: the width
        size = max((n for n in given if isinstance(n, int)), default=0)
    if _too_long(size):
        raise SecurityError(f"str.{name} would make over {MAX_TEXT:,} characters")
    return args


class OutputTooLarge(SecurityError):
    """The template wrote too much; ``template_line`` is where it was writing."""

    def __init__(self, message: str, template_line: int | None) -> None:
        super().__init__(message)
        self.template_line = template_line


def _writing_line(template: Template, generator: Any) -> int | None:
    """The template line a paused render is at (innermost yield-from frame)."""
    while getattr(generator, "gi_yieldfrom", None) is not None:
        generator = generator.gi_yieldfrom
    frame = getattr(generator, "gi_frame", None)
    if frame is None or (frame.f_code.co_filename != template.filename and template.filename):
        return None
    return template.get_corresponding_lineno(frame.f_lineno)


def render_bounded(template: Template, context: dict[str, Any]) -> str:
    """Render, stopping once the output passes MAX_OUTPUT (loops that write a lot)."""
    parts: list[str] = []
    total = 0
    generator = template.root_render_func(template.new_context(plain(context)))
    token = _budget.set(_Budget())
    try:
        for chunk in generator:
            total += len(chunk)
            if total > MAX_OUTPUT:
                line = _writing_line(template, generator)
                generator.close()  # type: ignore[attr-defined]
                raise OutputTooLarge(f"the template wrote over {MAX_OUTPUT:,} characters", line)
            parts.append(chunk)
    except OutputTooLarge:
        raise
    except Exception:
        # What Template.render does: tracebacks point at template lines.
        template.environment.handle_exception()
    finally:
        _budget.reset(token)
    return "".join(parts)
