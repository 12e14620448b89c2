"""The sandbox user templates run in, and the budget that bounds one render.

A template is written by a user of one organization and rendered in the process that sends
every organization's mail, so it must neither reach anything of ours nor take the process
down:

- the environment is Jinja2's immutable sandbox, tightened: no attribute starting with
  ``_``, no ``str.format``/``format_map``, only harmless methods of strings, lists and
  dicts, no ``attr`` or ``pprint`` filter, no ``lipsum``/``cycler``/``joiner``; what can be
  refused by reading a template is (``refusal``);
- a ``Budget`` per render (``RenderLimits``): a deadline, a number of loop iterations
  (macro, block and recursive-loop calls count too), the bytes of output, and the
  characters of the values built on the way. It is checked as the template runs: every
  loop iteration, call, filter, intercepted operator (``+ - * % **``), ``~`` and printed
  value goes through a hook, and operations that would build a big value
  (``"x" * 100000000``, ``center(10**9)``, joins, replaces) are measured *before* they run,
  so they are refused without the memory.

The budget of the render in progress is in a context variable (``with Budget(...)``), so renders
in different threads never share one. Nothing here does I/O.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from typing import Any, NoReturn

from jinja2 import ChainableUndefined, nodes
from jinja2.nodes import EvalContext
from jinja2.runtime import BlockReference, LoopContext, Macro, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace, pass_eval_context
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

MAX_INTEGER_BITS = 4096
"""Integers a template computes stay below this size (``9 ** 9 ** 9`` is refused)."""
WORK_FACTOR = 16
"""The values a render builds on the way may add up to this many times its output limit."""
TICKS = 16
"""Loop iterations between two looks at the clock."""


@dataclass(frozen=True)
class RenderLimits:
    """What one render of a message (subject and bodies together) may use."""

    timeout: float = 1.0
    """Seconds."""
    max_output: int = 1_000_000
    """Bytes (UTF-8) of subject and bodies; also the largest single value, in characters."""
    max_iterations: int = 100_000
    """Loop iterations, and calls of macros, blocks and recursive loops."""

    @property
    def max_work(self) -> int:
        """Characters of the values built on the way (filters, operators, calls)."""
        return WORK_FACTOR * self.max_output


DEFAULT_LIMITS = RenderLimits()


_budget: ContextVar[Budget | None] = ContextVar("campaignd_template_budget", default=None)


class OverLimit(Exception):
    """Raised inside a render by a hook when the render goes over a limit."""


class Budget:
    """What is left of one render's limits; ``with Budget(limits) as budget:`` makes it the
    budget of the render inside the block (in this thread and context).

    Once over a limit it stays over: every later check raises again, so a hook's exception
    that something swallowed resurfaces.
    """

    __slots__ = ("deadline", "iterations", "limits", "output", "problem", "token", "work")

    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self.deadline = time.perf_counter() + limits.timeout
        self.iterations = limits.max_iterations
        self.output = limits.max_output
        self.work = limits.max_work
        self.problem: str | None = None

    def __enter__(self) -> Budget:
        self.token = _budget.set(self)
        return self

    def __exit__(self, *exception: object) -> None:
        _budget.reset(self.token)

    def over(self, problem: str) -> NoReturn:
        if self.problem is None:
            self.problem = problem
        raise OverLimit(self.problem)

    def tick(self) -> None:
        if self.problem is not None:
            raise OverLimit(self.problem)
        if time.perf_counter() > self.deadline:
            self.over(f"rendering takes longer than the limit of {self.limits.timeout:g} s")

    def iterate(self, literal: int) -> None:
        """One more loop iteration (or call), writing ``literal`` characters of text; the
        clock is read every ``TICKS``th one (a pass of a loop body costs microseconds, and
        whatever in it could cost more checks the clock itself)."""
        self.iterations -= 1
        if self.iterations < 0:
            self.over(
                f"goes over the limit of {self.limits.max_iterations} loop iterations"
                " (macro calls included)"
            )
        self.work -= literal
        if self.work < 0:
            self.produce(0)
        if not self.iterations % TICKS:
            self.tick()

    def produce(self, characters: int) -> None:
        self.work -= characters
        if self.work < 0:
            self.over(
                f"builds more than the limit of {self.limits.max_work} characters of values"
                " while rendering"
            )

    def holds(self, items: int, what: str) -> None:
        """Refuse, before building it, a list longer than the loop-iteration limit."""
        if items > self.limits.max_iterations:
            self.over(
                f"{what} would have {items} items, over the limit of {self.limits.max_iterations}"
            )

    def fits(self, characters: int, what: str) -> None:
        """Refuse, before building it, a single value over the size limit."""
        if characters > self.limits.max_output:
            self.over(
                f"{what} would be {characters} characters,"
                f" over the limit of {self.limits.max_output}"
            )

    def write(self, chunk: str) -> None:
        self.output -= len(chunk) if chunk.isascii() else len(chunk.encode("utf-8", "replace"))
        if self.output < 0:
            self.over(f"writes more than the limit of {self.limits.max_output} bytes")


def _active() -> Budget:
    """The budget of the render in progress. Outside a render (Jinja folding constants at
    compile time) there is none, and raising makes Jinja leave the work to render time."""
    budget = _budget.get()
    if budget is None:
        raise RuntimeError("a bounded template hook ran outside a render")
    return budget


# -- measuring values -------------------------------------------------------------------------

_CONTAINERS = (list, tuple, dict, set, frozenset, Namespace)


def _weight(value: Any, limit: int) -> int:
    """About how many characters ``value`` becomes as text; stops counting past ``limit``."""
    total = 0
    pending = [value]
    while pending and total <= limit:
        item = pending.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            if total <= limit:
                pending.extend(item.keys())
                pending.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(item)
            if total <= limit:
                pending.extend(item)
        elif isinstance(item, Namespace):
            total += 16
            with suppress(AttributeError):  # where Jinja 3.1 keeps a namespace's values
                pending.append(object.__getattribute__(item, "_Namespace__attrs"))
        else:
            total += 24
    return total


def _check_container(budget: Budget, value: Any, what: str) -> None:
    if isinstance(value, _CONTAINERS):
        budget.fits(_weight(value, budget.limits.max_output), what)


_PRINTF_SPEC = re.compile(
    r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([diouxXeEfFgGcrsa%])"
)


def _check_printf(budget: Budget, template: str, arguments: Any) -> None:
    """``"%10s" % x`` and ``|format``: widths, precisions and arguments, before formatting."""
    size = len(template) + _weight(arguments, budget.limits.max_output)
    for width, precision, _kind in _PRINTF_SPEC.findall(template):
        if "*" in (width, precision):
            budget.over("'*' widths in % formats are not supported")
        size += int(width or 0) + int(precision or 0)
    budget.fits(size, "the formatted text")


def _check_binop(budget: Budget, operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for sequence, times in ((left, right), (right, left)):
            if isinstance(sequence, str) and isinstance(times, int):
                budget.fits(len(sequence) * max(times, 0), "a repeated text")
            elif isinstance(sequence, (list, tuple)) and isinstance(times, int):
                budget.holds(len(sequence) * max(times, 0), "a repeated list")
    elif operator == "+" and isinstance(left, str) and isinstance(right, str):
        budget.fits(len(left) + len(right), "a joined text")
    elif operator == "+" and isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        budget.holds(len(left) + len(right), "a joined list")
    elif operator == "%" and isinstance(left, str):
        _check_printf(budget, left, right)
    if isinstance(left, int) and isinstance(right, int):
        bits = max(abs(left).bit_length(), abs(right).bit_length())
        if operator == "*":
            bits = abs(left).bit_length() + abs(right).bit_length()
        elif operator == "**" and right > 0 and abs(left) > 1:
            bits = (abs(left).bit_length() - 1) * right
        if bits > MAX_INTEGER_BITS:
            budget.over(f"computes a number over the limit of {MAX_INTEGER_BITS} bits")


def _replaced_size(text: str, old: str, new: str, count: int | None) -> int:
    times = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        times = min(times, count)
    return len(text) + times * (len(new) - len(old))


# -- the hooks a template runs through --------------------------------------------------------


def _counted(iterable: Iterable[Any], budget: Budget, literal: int) -> Iterator[Any]:
    for item in iterable:
        budget.iterate(literal)
        yield item


LOOP_FILTER = "campaignd:loop"
CONCAT_FILTER = "campaignd:concat"
"""Internal filter names (no template can spell them) the compiler inserts."""


def _loop(iterable: Iterable[Any], literal: int = 0) -> Iterator[Any]:
    """What a ``{% for %}`` iterates over: the iterable, every item counted, with the
    literal text of the loop body (``literal`` characters) counted as built."""
    return _counted(iterable, _active(), literal)


@pass_eval_context
def _concat(eval_context: EvalContext, items: list[Any]) -> str:
    """``a ~ b``, measured before it is built."""
    budget = _active()
    budget.tick()
    limit = budget.limits.max_output
    size = sum(len(item) if isinstance(item, str) else _weight(item, limit) for item in items)
    budget.fits(size, "a joined value (~)")
    result = markup_join(items) if eval_context.autoescape else str_join(items)
    budget.produce(len(result))
    return result


def _safe_range(*arguments: int) -> range:
    budget = _active()
    try:
        numbers = range(*arguments)
        size = len(numbers)
    except OverflowError:
        size = budget.limits.max_iterations + 1
        numbers = range(0)
    if size > budget.limits.max_iterations:
        budget.over(
            f"range() of {size} numbers goes over the limit of"
            f" {budget.limits.max_iterations} loop iterations"
        )
    return numbers


ESCAPE_GROWTH = 5
"""The most characters HTML escaping makes of one (``"`` becomes ``&#34;``)."""


def _finalizer(growth: int) -> Callable[[Any], Any]:
    """What every ``{{ value }}`` goes through on its way out: its text is counted as built
    (``growth`` times, for what escaping may make of it), and a list or dict printed whole
    must fit. So a render's output is bounded as it is written, also into macros, blocks and
    loops, whose text Jinja joins before it reaches the caller."""

    def finalize(value: Any) -> Any:
        if isinstance(value, str):
            budget = _budget.get()
            if budget is not None:
                budget.work -= len(value) if isinstance(value, Markup) else growth * len(value)
                if budget.work < 0:
                    budget.produce(0)
        elif isinstance(value, _CONTAINERS):
            budget = _budget.get()
            if budget is not None:
                size = _weight(value, budget.limits.max_output)
                budget.fits(size, "a printed value")
                budget.produce(growth * size)
        return value

    return finalize


def _filter_center(budget: Budget, value: Any, width: int = 80) -> None:
    budget.fits(max(len(str(value)), width), "the text of |center")


def _filter_indent(
    budget: Budget, s: Any, width: int | str = 4, first: bool = False, blank: bool = False
) -> None:
    prefix = len(width) if isinstance(width, str) else int(width)
    budget.fits(prefix, "the indentation of |indent")
    text = str(s)
    budget.fits(len(text) + (text.count("\n") + 1) * prefix, "the text of |indent")


def _filter_wordwrap(
    budget: Budget,
    s: Any,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str | None = None,
    break_on_hyphens: bool = True,
) -> None:
    text = str(s)
    lines = len(text) // max(int(width), 1) + text.count("\n") + 1
    budget.fits(len(text) + lines * len(wrapstring or "\n"), "the text of |wordwrap")


def _filter_format(budget: Budget, value: Any, *args: Any, **kwargs: Any) -> None:
    _check_printf(budget, str(value), kwargs or args)


def _filter_replace(budget: Budget, s: Any, old: Any, new: Any, count: int | None = None) -> None:
    budget.fits(_replaced_size(str(s), str(old), str(new), count), "the text of |replace")


def _filter_urlize(
    budget: Budget,
    value: Any,
    trim_url_limit: int | None = None,
    nofollow: bool = False,
    target: str | None = None,
    rel: str | None = None,
    extra_schemes: Iterable[str] | None = None,
) -> None:
    text = str(value)
    per_word = len(target or "") + len(rel or "") + 64
    budget.fits(2 * len(text) + (len(text) // 2 + 1) * per_word, "the text of |urlize")


def _filter_batch(budget: Budget, value: Any, linecount: int, fill_with: Any = None) -> None:
    if fill_with is not None:
        budget.holds(int(linecount), "a batch of |batch")


def _filter_slice(budget: Budget, value: Any, slices: int, fill_with: Any = None) -> None:
    budget.holds(int(slices), "the slices of |slice")


_FILTER_CHECKS: dict[str, Callable[..., None]] = {
    "center": _filter_center,
    "indent": _filter_indent,
    "wordwrap": _filter_wordwrap,
    "format": _filter_format,
    "replace": _filter_replace,
    "urlize": _filter_urlize,
    "batch": _filter_batch,
    "slice": _filter_slice,
}
_ITERATING = {
    "batch",
    "dictsort",
    "groupby",
    "join",
    "list",
    "map",
    "max",
    "min",
    "reject",
    "rejectattr",
    "select",
    "selectattr",
    "slice",
    "sort",
    "sum",
    "unique",
}
"""Filters that go through every item of their input: it may not be longer than the
loop-iteration limit (``("x" * 1000000)|list|sort`` is refused)."""
_MATERIALISED = {"join", "sum"}
"""Filters whose input is read into a list first, so that it can be measured."""
_CONTAINER_FILTERS = {
    "abs",
    "batch",
    "count",
    "d",
    "default",
    "dictsort",
    "first",
    "float",
    "groupby",
    "int",
    "items",
    "last",
    "length",
    "list",
    "map",
    "max",
    "min",
    "random",
    "reject",
    "rejectattr",
    "reverse",
    "round",
    "select",
    "selectattr",
    "slice",
    "sort",
    "unique",
}
"""Filters that take a list or dict without turning it into text."""
_REMOVED_FILTERS = {"attr", "pprint"}


def _check_materialised(budget: Budget, name: str, items: list[Any], arguments: Any) -> None:
    limit = budget.limits.max_output
    if name == "join":
        separator = arguments[0] if arguments else ""
        size = _weight(items, limit) + len(str(separator)) * len(items)
        budget.fits(size, "the text of |join")
    elif all(isinstance(item, (str, list, tuple)) for item in items):
        budget.fits(sum(len(item) for item in items), "the value of |sum")


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with the render's budget checked around it, its arguments measured
    first when it could build a big value, and a text result counted as built."""
    skip = 1 if hasattr(function, "jinja_pass_arg") else 0
    check = _FILTER_CHECKS.get(name)
    textual = name not in _CONTAINER_FILTERS and name not in _MATERIALISED
    materialised = name in _MATERIALISED
    iterating = name in _ITERATING

    @wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        budget = _active()
        budget.tick()
        if len(args) > skip:
            value = args[skip]
            if iterating and hasattr(value, "__len__"):
                budget.holds(len(value), f"the input of |{name}")
            if materialised:
                items = list(value)
                budget.holds(len(items), f"the input of |{name}")
                _check_materialised(budget, name, items, args[skip + 1 :])
                args = (*args[:skip], items, *args[skip + 1 :])
            elif textual:
                _check_container(budget, value, f"the value given to |{name}")
            if check is not None:
                check(budget, *args[skip:], **kwargs)
        result = function(*args, **kwargs)
        if isinstance(result, str):
            budget.produce(len(result))
        return result

    return bounded


# -- the environment --------------------------------------------------------------------------

_STRING_METHODS = frozenset(
    {
        "capitalize",
        "casefold",
        "count",
        "endswith",
        "find",
        "index",
        "isalnum",
        "isalpha",
        "isascii",
        "isdecimal",
        "isdigit",
        "isidentifier",
        "islower",
        "isnumeric",
        "isprintable",
        "isspace",
        "istitle",
        "isupper",
        "join",
        "lower",
        "lstrip",
        "partition",
        "removeprefix",
        "removesuffix",
        "replace",
        "rfind",
        "rindex",
        "rpartition",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "striptags",
        "swapcase",
        "title",
        "unescape",
        "upper",
    }
)
"""Methods of strings a template may call: none builds more than its input, except
``replace`` and ``join``, which are measured first (``center``, ``zfill``, ``format``... are
not available; the filters of the same name are, measured)."""
_MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})
_SEQUENCE_METHODS = frozenset({"count", "index"})
_FORMAT_METHODS = frozenset({"format", "format_map"})


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, tightened, with every hook checking the render's budget."""

    intercepted_binops = frozenset({"+", "-", "*", "%", "**"})

    def __init__(self, *, autoescape: bool) -> None:
        finalize = _finalizer(ESCAPE_GROWTH if autoescape else 1)
        super().__init__(autoescape=autoescape, undefined=ChainableUndefined, finalize=finalize)
        self.globals.clear()
        self.globals.update(range=_safe_range, dict=dict, namespace=Namespace)
        filters = {
            name: _bounded_filter(name, function)
            for name, function in self.filters.items()
            if name not in _REMOVED_FILTERS
        }
        filters[LOOP_FILTER] = _loop
        filters[CONCAT_FILTER] = _concat
        self.filters = filters

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value) or attr in _FORMAT_METHODS:
            return False
        if not callable(value):
            return True
        if isinstance(obj, str):
            return attr in _STRING_METHODS
        if isinstance(obj, dict):
            return attr in _MAPPING_METHODS
        if isinstance(obj, (list, tuple)):
            return attr in _SEQUENCE_METHODS
        return not isinstance(obj, (int, float, complex, bytes, bytearray))

    def wrap_str_format(self, value: Any) -> None:
        """``str.format`` is not offered at all (``is_safe_attribute`` refuses it)."""
        return None

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        budget = _active()
        budget.tick()
        _check_binop(budget, operator, left, right)
        result = self.binop_table[operator](left, right)
        if isinstance(result, str):
            budget.produce(len(result))
        return result

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = _active()
        budget.tick()
        if isinstance(obj, (Macro, BlockReference)):
            budget.iterate(0)
        elif isinstance(obj, LoopContext):
            budget.iterate(0)
            if args:
                args = (_counted(args[0], budget, 0), *args[1:])
        else:
            owner = getattr(obj, "__self__", None)
            if isinstance(owner, str):
                args = _check_string_call(budget, owner, getattr(obj, "__name__", ""), args)
        result = super().call(context, obj, *args, **kwargs)
        if isinstance(result, str):
            budget.produce(len(result))
        return result


def _check_string_call(
    budget: Budget, text: str, method: str, args: tuple[Any, ...]
) -> tuple[Any, ...]:
    if method == "join" and args:
        items = list(args[0])
        budget.holds(len(items), "the input of .join()")
        size = _weight(items, budget.limits.max_output) + len(text) * len(items)
        budget.fits(size, "the text of .join()")
        return (items, *args[1:])
    if method == "replace" and len(args) >= 2:
        count = args[2] if len(args) > 2 and isinstance(args[2], int) else None
        size = _replaced_size(text, str(args[0]), str(args[1]), count)
        budget.fits(size, "the text of .replace()")
    return args


text_environment = BoundedEnvironment(autoescape=False)
html_environment = BoundedEnvironment(autoescape=True)


# -- reading templates ------------------------------------------------------------------------


def _literal_size(body: Iterable[nodes.Node]) -> int:
    """Characters of literal text one pass of a loop body writes (nested loops count their
    own; macro bodies count when called)."""
    size = 0
    pending = list(body)
    while pending:
        node = pending.pop()
        if isinstance(node, nodes.TemplateData):
            size += len(node.data)
        elif not isinstance(node, (nodes.For, nodes.Macro, nodes.CallBlock)):
            pending.extend(node.iter_child_nodes())
    return size


class _Bounder(NodeTransformer):
    """Routes every loop and every ``~`` of a parsed template through the budget's filters."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        literal = nodes.Const(_literal_size(node.body), lineno=node.lineno)
        node.iter = nodes.Filter(
            node.iter, LOOP_FILTER, [literal], [], None, None, lineno=node.lineno
        )
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        items = nodes.List(node.nodes, lineno=node.lineno)
        return nodes.Filter(items, CONCAT_FILTER, [], [], None, None, lineno=node.lineno)


_NOT_STANDALONE: dict[type[nodes.Node], str] = {
    nodes.Extends: "extends",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from ... import",
}


def refusal(tree: nodes.Template, environment: BoundedEnvironment) -> str | None:
    """Why a template is refused by reading it, or None."""
    for node in tree.find_all(tuple(_NOT_STANDALONE)):
        return (
            f"{{% {_NOT_STANDALONE[type(node)]} %}} is not available:"
            " a campaign's template stands alone"
        )
    names = [node.attr for node in tree.find_all(nodes.Getattr)]
    names += [
        node.arg.value
        for node in tree.find_all(nodes.Getitem)
        if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str)
    ]
    for name in names:
        if name.startswith("_"):
            return f"unsafe attribute '{name}' is not allowed"
        if name in _FORMAT_METHODS:
            return f"'.{name}()' is not allowed; place values with {{{{ }}}} or |format"
    for filter_node in tree.find_all(nodes.Filter):
        if filter_node.name not in environment.filters:
            return f"there is no filter '{filter_node.name}'"
    return None


def bounded(tree: nodes.Template, environment: BoundedEnvironment) -> nodes.Template:
    """The parsed template with its loops and ``~`` routed through the budget."""
    result = _Bounder().visit(tree)
    assert isinstance(result, nodes.Template)
    result.set_environment(environment)
    return result
