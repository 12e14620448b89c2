"""The recipient variables a campaign's templates print without a fallback.

The preview counts, for each of them, the recipients who lack it: they would get "Hi !".
Only reading is done here (parse, walk the tree): nothing renders, nothing does I/O.

Which names: those a template reads from its context (``jinja2.meta.find_undeclared_variables``),
by their first part (``{{ user.name }}`` needs ``user``), less what campaignd gives every
render (``PROVIDED_NAMES``: ``email``, ``unsubscribe_url``, ``preferences_url``), the
sandbox's globals (``range``, ``dict``, ``namespace``) and any name the template sets itself
(``{% set %}``, loop variables, macro arguments).

A recipient lacks a variable when the key is absent, its value is null (printed "None"), or
it is a text that is empty or only spaces (a blank CSV cell is ``""``). How each use of a
variable is guarded decides which of these matter:

- covered entirely, when the use is reached only for a value that is there and not
  empty: inside ``{% if name %}``, ``{% elif name %}`` (and the ``else`` of
  ``{% if not name %}``), ``{{ name if name else "you" }}``, ``{{ name or "you" }}``,
  ``{{ name | default("you", true) }}``, ``{{ user.name | default("you") }}`` (an attribute
  of a null or empty value is undefined too), or ``{% for item in items %}`` with an
  ``{% else %}`` branch;
- covered when absent only: ``{{ name | default("you") }}`` and ``{% if name is defined %}``.
  Jinja's ``default`` replaces only an undefined value, so a present null or ``""`` still
  prints; for such a variable only the recipients whose value is null or empty are counted
  (``empty_only``);
- not covered: every other use, e.g. ``{{ name }}``, ``{{ name | title }}``,
  ``{{ greet(name) }}``, ``{% for item in items %}`` without ``{% else %}``, or
  ``{% if count > 3 %}`` (which fails the render when ``count`` is absent).

A test that only looks at a variable (``{% if vip %}``, ``name is defined``) is not a use:
leaving out optional text is what it is for. A variable counts by its least covered use
across subject and bodies. Tests are recognised by their shape (a name or attribute,
``not``, ``and``, ``or``, ``is defined``, ``is undefined``, ``is none``); a guard written
any other way is not, and its variable is reported, which errs towards a warning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum

from jinja2 import TemplateSyntaxError, meta, nodes

from campaignd.domain.sandbox import BoundedEnvironment, html_environment, text_environment
from campaignd.domain.templates import PROVIDED_NAMES


@dataclass(frozen=True)
class RecipientVariable:
    name: str
    empty_only: bool
    """The templates fall back for a recipient without the key, but print a null or empty
    value as it is: only those recipients lack it."""
    seen_as: str | None = None
    """The plain text around the first place the variable is printed, without it, as a
    recipient who lacks it reads it ("Hi !"); None when there is no such text."""


class _Cover(IntEnum):
    """Which recipients a use of a variable is safe for."""

    NONE = 0
    ABSENT = 1  # also those without the key
    ALL = 2  # also those whose value is null or empty


_Guards = Mapping[str, _Cover]
_DEFAULTS = frozenset({"default", "d"})
_LOOKING_TESTS = frozenset({"defined", "undefined", "none"})
_PRINTING_FILTERS = frozenset(
    {"default", "d", "title", "upper", "lower", "capitalize", "trim", "e", "escape", "safe"}
)
_EXAMPLE_SIDE = 40


def _root(node: nodes.Node) -> str | None:
    """``a`` for ``a``, ``a.b``, ``a['b'][0]``; None for anything else."""
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        node = node.node
    if isinstance(node, nodes.Name) and node.ctx == "load":
        return node.name
    return None


def _merge(*guards: _Guards) -> dict[str, _Cover]:
    merged: dict[str, _Cover] = {}
    for guard in guards:
        for name, cover in guard.items():
            merged[name] = max(merged.get(name, _Cover.NONE), cover)
    return merged


def _common(left: _Guards, right: _Guards) -> dict[str, _Cover]:
    return {name: min(cover, right[name]) for name, cover in left.items() if name in right}


def _implied(test: nodes.Node, truth: bool) -> dict[str, _Cover]:
    """What ``test`` being ``truth`` tells about the variables it looks at."""
    name = _root(test)
    if name is not None:
        return {name: _Cover.ALL} if truth else {}
    if isinstance(test, nodes.Not):
        return _implied(test.node, not truth)
    if isinstance(test, nodes.And):
        left, right = _implied(test.left, truth), _implied(test.right, truth)
        return _merge(left, right) if truth else _common(left, right)
    if isinstance(test, nodes.Or):
        left, right = _implied(test.left, truth), _implied(test.right, truth)
        return _common(left, right) if truth else _merge(left, right)
    if isinstance(test, nodes.Test) and test.name in ("defined", "undefined"):
        name = _root(test.node)
        if name is not None and truth == (test.name == "defined"):
            return {name: _Cover.ABSENT}
    return {}


def _boolean_default(node: nodes.Filter) -> bool:
    """``default(value, true)``: also replaces a null or empty value."""
    flags = list(node.args[1:2])
    flags += [keyword.value for keyword in node.kwargs if keyword.key == "boolean"]
    return any(isinstance(flag, nodes.Const) and bool(flag.value) for flag in flags)


class _Uses:
    """The least cover of each variable's uses, walking one template."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names
        self.cover: dict[str, _Cover] = {}
        self.printed: dict[str, tuple[_Cover, nodes.Output]] = {}
        """For ``seen_as``: the first ``{{ }}`` that prints each variable with its least cover."""
        self._printing: tuple[str | None, nodes.Output] | None = None

    def use(self, name: str, cover: _Cover) -> None:
        if name not in self.names:
            return
        self.cover[name] = min(self.cover.get(name, _Cover.ALL), cover)
        if self._printing is not None and self._printing[0] == name:
            earlier = self.printed.get(name)
            if earlier is None or cover < earlier[0]:
                self.printed[name] = (cover, self._printing[1])

    def visit_all(self, body: Iterable[nodes.Node], guards: _Guards) -> None:
        for node in body:
            self.visit(node, guards)

    def visit(self, node: nodes.Node, guards: _Guards, cover: _Cover = _Cover.NONE) -> None:
        """``cover`` is what the surrounding expression gives the root of an attribute chain."""
        if isinstance(node, nodes.Name):
            if node.ctx == "load":
                self.use(node.name, max(guards.get(node.name, _Cover.NONE), cover))
        elif isinstance(node, nodes.Getattr):
            self.visit(node.node, guards, cover)
        elif isinstance(node, nodes.Getitem):
            self.visit(node.node, guards, cover)
            self.visit(node.arg, guards)
        elif isinstance(node, nodes.Filter) and node.name in _DEFAULTS and node.node is not None:
            chained = not isinstance(node.node, nodes.Name)
            full = chained or _boolean_default(node)
            self.visit(node.node, guards, _Cover.ALL if full else _Cover.ABSENT)
            self._visit_arguments(node, guards)
        elif isinstance(node, nodes.Test) and node.name in _LOOKING_TESTS:
            self.check(node, guards)
        elif isinstance(node, (nodes.And, nodes.Or)):
            self.check(node.left, guards)
            self.visit(node.right, _merge(guards, _implied(node.left, isinstance(node, nodes.And))))
        elif isinstance(node, nodes.CondExpr):
            self.check(node.test, guards)
            self.visit(node.expr1, _merge(guards, _implied(node.test, True)))
            if node.expr2 is not None:
                self.visit(node.expr2, _merge(guards, _implied(node.test, False)))
        elif isinstance(node, nodes.If):
            self._visit_if(node, guards)
        elif isinstance(node, nodes.For):
            self.visit(node.iter, guards, _Cover.ALL if node.else_ else _Cover.NONE)
            if node.test is not None:
                self.visit(node.test, guards)
            self.visit_all(node.body, guards)
            self.visit_all(node.else_, guards)
        elif isinstance(node, nodes.Macro):
            self.visit_all(node.defaults, guards)
            self.visit_all(node.body, {})  # called from anywhere: no guard of here holds
        elif isinstance(node, nodes.Output):
            for item in node.nodes:
                self._printing = (_printed_name(item), node)
                self.visit(item, guards)
                self._printing = None
        else:
            for child in node.iter_child_nodes():
                self.visit(child, guards)

    def check(self, test: nodes.Node, guards: _Guards) -> None:
        """``test`` is evaluated for its truth: looking at a variable there is not a use."""
        if _root(test) is not None:
            self.visit(test, guards, _Cover.ALL)
        elif isinstance(test, nodes.Not):
            self.check(test.node, guards)
        elif isinstance(test, (nodes.And, nodes.Or)):
            self.check(test.left, guards)
            truth = isinstance(test, nodes.And)
            self.check(test.right, _merge(guards, _implied(test.left, truth)))
        elif isinstance(test, nodes.Test) and test.name in _LOOKING_TESTS:
            self.visit(test.node, guards, _Cover.ALL)
            self._visit_arguments(test, guards)
        else:
            self.visit(test, guards)

    def _visit_arguments(self, node: nodes.Filter | nodes.Test, guards: _Guards) -> None:
        for argument in node.args:
            self.visit(argument, guards)
        for keyword in node.kwargs:
            self.visit(keyword.value, guards)
        for extra in (node.dyn_args, node.dyn_kwargs):
            if extra is not None:
                self.visit(extra, guards)

    def _visit_if(self, node: nodes.If, guards: _Guards) -> None:
        otherwise = dict(guards)
        for branch in [node, *node.elif_]:
            self.check(branch.test, otherwise)
            self.visit_all(branch.body, _merge(otherwise, _implied(branch.test, True)))
            otherwise = _merge(otherwise, _implied(branch.test, False))
        self.visit_all(node.else_, otherwise)


def _printed_name(item: nodes.Node) -> str | None:
    """The variable a ``{{ }}`` prints as it is (or through a filter that keeps an empty
    value empty), or None."""
    while isinstance(item, nodes.Filter) and item.name in _PRINTING_FILTERS:
        assert item.node is not None
        item = item.node
    return _root(item)


def _assigned(tree: nodes.Template) -> set[str]:
    """Names the template sets itself: ``set``, ``for`` targets, macro names and arguments."""
    names = {node.name for node in tree.find_all(nodes.Name) if node.ctx in ("store", "param")}
    names.update(node.name for node in tree.find_all(nodes.Macro))
    return names


def _seen_as(output: nodes.Output, name: str, *, html: bool) -> str | None:
    """The line of text around the first place ``output`` prints ``name``, without it:
    literal text as it is, other values as "…", HTML tags and other lines left out."""
    items = output.nodes
    for index, item in enumerate(items):
        if _printed_name(item) != name:
            continue
        left = _side(reversed(items[:index]), html=html, leftwards=True)
        right = _side(items[index + 1 :], html=html, leftwards=False)
        text = " ".join(f"{left}{right}".split())
        return text if any(character.isalnum() for character in text) else None
    return None


def _side(items: Iterable[nodes.Node], *, html: bool, leftwards: bool) -> str:
    """The text next to a printed value, read away from it up to a line end, a tag or
    ``_EXAMPLE_SIDE`` characters."""
    stops = ("\n", ">") if leftwards else ("\n", "<")
    pieces: list[str] = []
    length = 0
    for item in items:
        piece = item.data if isinstance(item, nodes.TemplateData) else "…"
        cut = [
            piece.rfind(stop) if leftwards else piece.find(stop)
            for stop in stops
            if stop in piece and (html or stop == "\n")
        ]
        if cut:
            at = max(cut) if leftwards else min(cut)
            pieces.append(piece[at + 1 :] if leftwards else piece[:at])
            break
        pieces.append(piece)
        length += len(piece)
        if length >= _EXAMPLE_SIDE:
            break
    if leftwards:
        return "".join(reversed(pieces))[-_EXAMPLE_SIDE:]
    return "".join(pieces)[:_EXAMPLE_SIDE]


@dataclass
class _Found:
    cover: _Cover
    seen_as: str | None


def _variables_of(source: str, environment: BoundedEnvironment, found: dict[str, _Found]) -> None:
    """Add what ``source`` uses to ``found``: each variable keeps its least cover, and the
    example of a use with that cover (the first one, in the order the templates come)."""
    try:
        tree = environment.parse(source)
        names = meta.find_undeclared_variables(tree) - PROVIDED_NAMES - _assigned(tree)
        uses = _Uses(frozenset(names))
        uses.visit(tree, {})
    except (TemplateSyntaxError, RecursionError):
        return  # a template that cannot be read is refused when saved; nothing to count
    html = environment is html_environment
    for name, cover in uses.cover.items():
        printed = uses.printed.get(name)
        seen_as = None
        if printed is not None and printed[0] == cover:
            seen_as = _seen_as(printed[1], name, html=html)
        earlier = found.get(name)
        if earlier is None or cover < earlier.cover:
            found[name] = _Found(cover, seen_as)
        elif cover == earlier.cover and earlier.seen_as is None:
            earlier.seen_as = seen_as


def recipient_variables(
    subject: str, html_body: str | None, text_body: str | None
) -> list[RecipientVariable]:
    """The variables some recipients may lack, by name: those the templates print without
    covering every case (see the module's docstring)."""
    found: dict[str, _Found] = {}
    for source, environment in (
        (subject, text_environment),
        (text_body, text_environment),
        (html_body, html_environment),
    ):
        if source:
            _variables_of(source, environment, found)
    return [
        RecipientVariable(name, empty_only=item.cover == _Cover.ABSENT, seen_as=item.seen_as)
        for name, item in sorted(found.items())
        if item.cover < _Cover.ALL
    ]


__all__ = ["RecipientVariable", "recipient_variables"]
