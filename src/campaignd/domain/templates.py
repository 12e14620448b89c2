"""Sandboxed Jinja2 templates of subject and bodies: compiled and tried when saved, rendered
within limits of time, size and loop iterations (the sandbox and its budget: ``sandbox``).

Compiling and rendering are CPU-bound and can take up to the limits' timeout: callers on
an event loop run them in a thread (``delivery.messages.template_thread``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Template, TemplateError

from campaignd.domain.sandbox import (
    DEFAULT_LIMITS,
    Budget,
    OverLimit,
    RenderLimits,
    bounded,
    html_environment,
    refusal,
    text_environment,
)

SAMPLE_CONTEXT: dict[str, Any] = {
    "email": "someone@example.com",
    "unsubscribe_url": "https://example.com/u/sample",
    "preferences_url": "https://example.com/u/sample",
}

FIELD_NAMES = {"subject": "subject", "html": "htmlBody", "text": "textBody"}
PROVIDED_NAMES = frozenset({"email", "unsubscribe_url", "preferences_url"})
"""What every render gets from campaignd besides the recipient's variables
(``recipient_context``)."""


class TemplateProblem(ValueError):
    """A template does not compile or cannot render; ``field`` names which one."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class RenderLimitExceeded(TemplateProblem):
    """A render went over one of its ``RenderLimits``; the message says which one."""


def _compile(field: str, source: str, *, html: bool) -> Template:
    environment = html_environment if html else text_environment
    try:
        tree = environment.parse(source)
        refused = refusal(tree, environment)
        if refused is not None:
            raise TemplateProblem(field, refused)
        return environment.from_string(bounded(tree, environment))
    except TemplateProblem:
        raise
    except TemplateError as error:
        raise TemplateProblem(field, f"{type(error).__name__}: {error}") from None
    except Exception as error:
        raise TemplateProblem(field, f"{type(error).__name__}: {error}") from None


# -- rendering --------------------------------------------------------------------------------


def _render(
    template: Template,
    field: str,
    context: dict[str, Any],
    budget: Budget,
    flat_globals: dict[str, Any] | None = None,
) -> str:
    """One template. Its output is measured once it is joined: by then it cannot be much
    larger than the limit, since every value and every loop's text was counted on the way
    (``Budget.produce``), and measuring each piece as it comes would cost a tenth of a
    typical render.

    ``flat_globals``: the template's globals as one dictionary, made once per template.
    ``Template.new_context`` merges them from their ``ChainMap`` key by key on every render,
    and the context reads the ``ChainMap``'s keys again; the context made here is the
    same."""
    try:
        if flat_globals is None:
            flat_globals = dict(template.globals)
        environment = template.environment
        render_context = environment.context_class(
            environment,
            {**flat_globals, **context},
            template.name,
            template.blocks,
            globals=flat_globals,  # only its keys are kept: the same as the ChainMap's
        )
        text = "".join(template.root_render_func(render_context))
        budget.write(text)
        if budget.problem is not None:
            raise OverLimit(budget.problem)
    except OverLimit as over:
        raise RenderLimitExceeded(field, str(over)) from None
    return text


@dataclass(frozen=True)
class CompiledCampaign:
    subject: Template
    html: Template | None
    text: Template | None
    html_has_unsubscribe: bool
    text_has_unsubscribe: bool
    limits: RenderLimits = DEFAULT_LIMITS
    flat_globals: tuple[dict[str, Any], ...] = dataclasses.field(
        init=False, repr=False, compare=False
    )
    """Each template's globals (subject, HTML, text) flattened once (``_render``)."""

    def __post_init__(self) -> None:
        flat = tuple(
            {} if template is None else dict(template.globals)
            for template in (self.subject, self.html, self.text)
        )
        object.__setattr__(self, "flat_globals", flat)

    def render(self, context: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
        """Subject, HTML and text for one recipient, within ``limits`` together.

        Raises RenderLimitExceeded (naming the field and the limit) when the render goes
        over a limit; other errors of a template (an undefined filter argument, a division
        by zero...) are raised as they are.
        """
        variables = context if isinstance(context, dict) else dict(context)
        with Budget(self.limits) as budget:
            flat = self.flat_globals
            subject = " ".join(_render(self.subject, "subject", variables, budget, flat[0]).split())
            html = text = None
            if self.html is not None:
                html = _render(self.html, "htmlBody", variables, budget, flat[1])
            if self.text is not None:
                text = _render(self.text, "textBody", variables, budget, flat[2])
        return subject, html, text

    def try_render(self, context: Mapping[str, Any]) -> None:
        """Render once and raise TemplateProblem, naming the field, if that fails."""
        variables = dict(context)
        parts = (("subject", self.subject), ("htmlBody", self.html), ("textBody", self.text))
        with Budget(self.limits) as budget:
            for field, template in parts:
                if template is None:
                    continue
                try:
                    _render(template, field, variables, budget)
                except TemplateProblem:
                    raise
                except Exception as error:  # a template that cannot render for anyone
                    raise TemplateProblem(field, f"{type(error).__name__}: {error}") from None


def recipient_context(
    email: str, variables: Mapping[str, Any] | None, unsubscribe_url: str
) -> dict[str, Any]:
    """What the templates see for one recipient: their variables, then ``email``,
    ``unsubscribe_url`` and ``preferences_url``, which a variable of the same name never
    overrides. ``preferences_url`` is the same page as ``unsubscribe_url`` (the link's page
    is the preference centre); a body that places only it still gets the unsubscribe
    footer."""
    return {
        **(variables or {}),
        "email": email,
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": unsubscribe_url,
    }


def compile_campaign(
    subject: str,
    html_body: str | None,
    text_body: str | None,
    *,
    limits: RenderLimits = DEFAULT_LIMITS,
) -> CompiledCampaign:
    """Compile and try each template (one render for a sample recipient, within ``limits``);
    raises TemplateProblem (RenderLimitExceeded for a limit) naming the API field.

    Compiling and the trial render can take up to ``limits.timeout``: call it off the
    event loop.
    """
    compiled = CompiledCampaign(
        subject=_compile("subject", subject, html=False),
        html=_compile("htmlBody", html_body, html=True) if html_body else None,
        text=_compile("textBody", text_body, html=False) if text_body else None,
        html_has_unsubscribe="unsubscribe_url" in (html_body or ""),
        text_has_unsubscribe="unsubscribe_url" in (text_body or ""),
        limits=limits,
    )
    compiled.try_render(SAMPLE_CONTEXT)
    return compiled


__all__ = [
    "DEFAULT_LIMITS",
    "FIELD_NAMES",
    "PROVIDED_NAMES",
    "SAMPLE_CONTEXT",
    "CompiledCampaign",
    "RenderLimitExceeded",
    "RenderLimits",
    "TemplateProblem",
    "compile_campaign",
    "recipient_context",
]
