"""Sandboxed Jinja2 templates of subject and bodies: compiled and tried when saved."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import ChainableUndefined, Template, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment

_text = SandboxedEnvironment(autoescape=False, undefined=ChainableUndefined)
_html = SandboxedEnvironment(autoescape=True, undefined=ChainableUndefined)

SAMPLE_CONTEXT: dict[str, Any] = {
    "email": "someone@example.com",
    "unsubscribe_url": "https://example.com/u/sample",
}

FIELD_NAMES = {"subject": "subject", "html": "htmlBody", "text": "textBody"}


class TemplateProblem(ValueError):
    """A template does not compile or cannot render; ``field`` names which one."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class CompiledCampaign:
    subject: Template
    html: Template | None
    text: Template | None
    html_has_unsubscribe: bool
    text_has_unsubscribe: bool

    def render(self, context: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
        """Subject, HTML and text for one recipient."""
        subject = " ".join(self.subject.render(context).split())
        html = self.html.render(context) if self.html is not None else None
        text = self.text.render(context) if self.text is not None else None
        return subject, html, text


def recipient_context(
    email: str, variables: Mapping[str, Any] | None, unsubscribe_url: str
) -> dict[str, Any]:
    """What the templates see for one recipient: their variables, then ``email`` and
    ``unsubscribe_url``, which a variable of the same name never overrides."""
    return {**(variables or {}), "email": email, "unsubscribe_url": unsubscribe_url}


def _unsafe_names(tree: nodes.Template) -> list[str]:
    """Attribute and item names a sandboxed template must not reach for (``__class__``...)."""
    names = [node.attr for node in tree.find_all(nodes.Getattr)]
    names += [
        node.arg.value
        for node in tree.find_all(nodes.Getitem)
        if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str)
    ]
    return [name for name in names if name.startswith("_")]


def _compile(field: str, source: str, *, html: bool) -> Template:
    environment = _html if html else _text
    try:
        unsafe = _unsafe_names(environment.parse(source))
        if unsafe:
            raise TemplateProblem(field, f"unsafe attribute '{unsafe[0]}' is not allowed")
        template = environment.from_string(source)
        template.render(SAMPLE_CONTEXT)
    except TemplateProblem:
        raise
    except TemplateError as error:
        raise TemplateProblem(field, f"{type(error).__name__}: {error}") from None
    except Exception as error:  # a template that cannot render for anyone is refused
        raise TemplateProblem(field, f"{type(error).__name__}: {error}") from None
    return template


def compile_campaign(
    subject: str, html_body: str | None, text_body: str | None
) -> CompiledCampaign:
    """Compile and try each template; raises TemplateProblem naming the API field."""
    return CompiledCampaign(
        subject=_compile("subject", subject, html=False),
        html=_compile("htmlBody", html_body, html=True) if html_body else None,
        text=_compile("textBody", text_body, html=False) if text_body else None,
        html_has_unsubscribe="unsubscribe_url" in (html_body or ""),
        text_has_unsubscribe="unsubscribe_url" in (text_body or ""),
    )
