"""The e-mails a tenant may rewrite, and the sandboxed language it writes them in.

Every e-mail a tenant's clients receive is one ``TemplateKind`` here: where its built-in
subject and body live, and the values its text may use, each with a description for the
editor and the kind of sample the preview shows. A tenant's text is a Django template
run by an engine of its own (``_ENGINE``): no loader (nothing is read from disk), no
library to ``{% load %}``, and of the built-in tags and filters only ``if`` / ``for`` and
a few filters that format a value. The context holds the kind's values only, each a
plain string, number or boolean, so no lookup can reach a model, a setting or a method
that does something.

A text is checked when saved (``template_check``): an unknown tag or filter, a syntax
error, or a value the kind does not offer (``settings``, ``client.user`` ...) is refused
with a message naming it. The built-in text of a kind, in a language, is its template
with the translations filled in (``builtin_text``): what the editor starts from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.template import (
    Context,
    Engine,
    Library,
    Template,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
    engines,
)
from django.template.base import FilterExpression, Node, TextNode, Variable, VariableNode
from django.template.defaulttags import ForNode, IfNode
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

BILLING_FOLDER = "billing/emails"
SUPPORT_FOLDER = "support/emails"
PAYMENTS_FOLDER = "billing/payments/emails"

# The languages a tenant writes texts in; "" is "every language without its own text".
TEMPLATE_LANGUAGES = ("", "en", "it", "ru")

ALLOWED_TAGS = frozenset({"if", "elif", "else", "endif", "for", "empty", "endfor"})
ALLOWED_FILTERS = frozenset(
    {
        "capfirst",
        "center",
        "cut",
        "date",
        "default",
        "default_if_none",
        "first",
        "floatformat",
        "join",
        "last",
        "length",
        "linebreaks",
        "linebreaksbr",
        "ljust",
        "lower",
        "pluralize",
        "rjust",
        "title",
        "truncatechars",
        "truncatewords",
        "upper",
        "wordcount",
        "wordwrap",
        "yesno",
    }
)
# What a loop offers besides its own variable.
_FORLOOP_ATTRIBUTES = frozenset(
    {"counter", "counter0", "revcounter", "revcounter0", "first", "last", "parentloop"}
)


@dataclass(frozen=True)
class TemplateVariable:
    name: str
    description: Promise | str
    # How the preview makes a sample of it: "text" (``sample`` as written), "money",
    # "date" or "url" (made in the tenant's currency, the language, the portal).
    sample_kind: str = "text"
    sample: Promise | str = ""


@dataclass(frozen=True)
class TemplateKind:
    key: str
    label: Promise | str
    folder: str
    variables: tuple[TemplateVariable, ...]

    @property
    def variable_names(self) -> frozenset[str]:
        return frozenset(v.name for v in self.variables)


def _v(name: str, description: Promise, sample_kind: str = "text", sample: Any = "") -> Any:
    return TemplateVariable(name, description, sample_kind, sample)


_COMMON = (
    _v("client_name", _("The client's name"), sample=_("Giulia Bianchi")),
    _v("seller_name", _("Your company's name, as on your invoices")),
    _v("portal_url", _("The address of your client area"), "url"),
)
_INVOICE = (
    _v("invoice_number", _("The invoice's number"), sample="2026/00042"),
    _v("issue_date", _("The invoice's date"), "date"),
    _v("due_date", _("The date the invoice is due"), "date"),
    _v("total", _("The invoice's total"), "money"),
    _v("amount_due", _("What is left to pay (empty when nothing is)"), "money"),
)
_SERVICE = (
    _v("service_name", _("The service's name"), sample=_("Web hosting Pro")),
    _v("service_domain", _("The service's domain (may be empty)"), sample="bianchi.example"),
)
# What every e-mail about a card payment (to confirm, or failed) has to say.
_CARD_PAYMENT = (
    _v("invoice_number", _("The invoice's number"), sample="2026/00042"),
    _v("amount", _("The amount of the payment"), "money"),
)
_TICKET = (
    _v("ticket_number", _("The ticket's number"), sample="1042"),
    _v("ticket_subject", _("The ticket's subject"), sample=_("My site is slow")),
    _v("department", _("The department the ticket is in"), sample=_("Technical support")),
    _v("ticket_url", _("The ticket's page in the client area"), "url"),
)

TEMPLATE_KINDS: dict[str, TemplateKind] = {
    kind.key: kind
    for kind in (
        TemplateKind(
            "order_confirmation",
            _("Order confirmation"),
            BILLING_FOLDER,
            (
                *_COMMON,
                _v("order_date", _("The order's date"), "date"),
                _v(
                    "order_items",
                    _("What was ordered, one line each"),
                    sample=_("Web hosting Pro, monthly"),
                ),
                _v("order_total", _("The order's total"), "money"),
                _v("invoice_number", _("The number of the order's invoice"), sample="2026/00042"),
                _v("amount_due", _("What is left to pay (empty when nothing is)"), "money"),
            ),
        ),
        TemplateKind("invoice_issued", _("Invoice issued"), BILLING_FOLDER, (*_COMMON, *_INVOICE)),
        TemplateKind(
            "payment_received",
            _("Payment received"),
            BILLING_FOLDER,
            (
                *_COMMON,
                _v("payment_amount", _("The amount received"), "money"),
                _v("payment_date", _("The date it was received"), "date"),
                *_INVOICE,
            ),
        ),
        TemplateKind(
            "payment_reminder", _("Payment reminder"), BILLING_FOLDER, (*_COMMON, *_INVOICE)
        ),
        TemplateKind(
            "invoice_overdue", _("Invoice overdue"), BILLING_FOLDER, (*_COMMON, *_INVOICE)
        ),
        TemplateKind(
            "service_suspended",
            _("Service suspended"),
            BILLING_FOLDER,
            (
                *_COMMON,
                *_SERVICE,
                _v("reason", _("Why, when you gave a reason"), sample=_("Abuse report")),
                *_INVOICE,
            ),
        ),
        TemplateKind(
            "service_activated",
            _("Service activated (welcome)"),
            BILLING_FOLDER,
            (*_COMMON, *_SERVICE),
        ),
        TemplateKind(
            "client_welcome",
            _("New client account (welcome)"),
            BILLING_FOLDER,
            (
                *_COMMON,
                _v(
                    "login_email",
                    _("The e-mail address the client signs in with"),
                    sample="giulia.bianchi@example.test",
                ),
                _v("login_url", _("The page where the client signs in"), "url"),
            ),
        ),
        TemplateKind(
            "payment_action_required",
            _("Card payment to confirm"),
            PAYMENTS_FOLDER,
            (
                *_COMMON,
                *_CARD_PAYMENT,
                _v("action_url", _("Where the client confirms the payment"), "url"),
            ),
        ),
        TemplateKind(
            "autocharge_failed",
            _("Automatic card payment failed"),
            PAYMENTS_FOLDER,
            (
                *_COMMON,
                *_CARD_PAYMENT,
                _v("card", _("The card, as its brand and last digits"), sample="Visa •••• 4242"),
                _v("reason", _("What the bank said (may be empty)")),
                _v("next_attempt", _("The date of the next try (empty: none)"), "date"),
                _v("due_date", _("The date the invoice is due"), "date"),
                _v("needs_authentication", _("Whether the bank wants the client to confirm")),
            ),
        ),
        TemplateKind("ticket_received", _("Ticket received"), SUPPORT_FOLDER, (*_COMMON, *_TICKET)),
        TemplateKind(
            "ticket_answered",
            _("Ticket answered"),
            SUPPORT_FOLDER,
            (
                *_COMMON,
                *_TICKET,
                _v(
                    "message_body",
                    _("The answer's text"),
                    sample=_("We have moved your site to a faster server."),
                ),
                _v("author_name", _("Who answered"), sample=_("Your support team")),
            ),
        ),
        TemplateKind(
            "password_reset",
            _("Password reset"),
            BILLING_FOLDER,
            (*_COMMON, _v("reset_url", _("The link that sets a new password"), "url")),
        ),
    )
}


def template_kind(key: str) -> TemplateKind:
    try:
        return TEMPLATE_KINDS[key]
    except KeyError:
        raise ValidationError(_("There is no e-mail of this kind.")) from None


# --- the sandbox -------------------------------------------------------------------

_library = Library()
_library.tag("if", defaulttags.do_if)
_library.tag("for", defaulttags.do_for)
for _name in ALLOWED_FILTERS:
    # The functions keep the flags (is_safe, needs_autoescape) their own library set.
    _library.filters[_name] = defaultfilters.register.filters[_name]


class _SandboxEngine(Engine):
    # No default tags, filters or loader tags: only what _library offers.
    default_builtins: list[str] = []


_ENGINE = _SandboxEngine(
    dirs=[], app_dirs=False, loaders=[], libraries={}, builtins=[], string_if_invalid=""
)
_ENGINE.template_builtins = [_library]

_TAG_RE = re.compile(r"{%-?\s*(\w*)")
_EXPRESSION_RE = re.compile(r"{{(.*?)}}|{%(.*?)%}", re.DOTALL)
_FILTER_RE = re.compile(r"\|\s*(\w+)")


def _problem(message: str, **values: Any) -> ValidationError:
    return ValidationError(message % values if values else message)


def _syntax_check(text: str) -> Template:
    for tag in _TAG_RE.findall(text):
        if tag not in ALLOWED_TAGS:
            raise _problem(
                gettext(
                    "The tag “%(tag)s” cannot be used in an e-mail: only if and for are allowed."
                ),
                tag=tag or "{%",
            )
    for match in _EXPRESSION_RE.finditer(text):
        for name in _FILTER_RE.findall(match.group(1) or match.group(2) or ""):
            if name not in ALLOWED_FILTERS:
                raise _problem(
                    gettext("The filter “%(filter)s” cannot be used in an e-mail."), filter=name
                )
    try:
        return Template(text, engine=_ENGINE)
    except TemplateSyntaxError as exc:
        raise _problem(gettext("The text is not a valid template: %(error)s"), error=exc) from exc


def _variables(expression: FilterExpression) -> Iterator[tuple[str, ...]]:
    if isinstance(expression.var, Variable) and expression.var.lookups is not None:
        yield expression.var.lookups
    for _function, arguments in expression.filters:
        for is_variable, argument in arguments:
            if is_variable and isinstance(argument, Variable) and argument.lookups is not None:
                yield argument.lookups


def _condition_variables(condition: Any) -> Iterator[tuple[str, ...]]:
    # The parsed condition of an {% if %} is a tree of smartif operators whose leaves
    # hold a FilterExpression in ``value``.
    if condition is None:
        return
    value = getattr(condition, "value", None)
    if isinstance(value, FilterExpression):
        yield from _variables(value)
        return
    for side in ("first", "second"):
        yield from _condition_variables(getattr(condition, side, None))


def _used(
    nodes: list[Node], loop_names: frozenset[str]
) -> Iterator[tuple[tuple[str, ...], frozenset[str]]]:
    """Every variable the template reads, with the loop variables in scope there."""
    for node in nodes:
        if isinstance(node, TextNode):
            continue
        if isinstance(node, VariableNode):
            for lookups in _variables(node.filter_expression):
                yield lookups, loop_names
        elif isinstance(node, IfNode):
            for condition, nodelist in node.conditions_nodelists:
                for lookups in _condition_variables(condition):
                    yield lookups, loop_names
                yield from _used(nodelist, loop_names)
        elif isinstance(node, ForNode):
            for lookups in _variables(node.sequence):
                yield lookups, loop_names
            inner = loop_names | frozenset(node.loopvars) | {"forloop"}
            yield from _used(node.nodelist_loop, inner)
            yield from _used(node.nodelist_empty, loop_names)
        else:
            # The engine only knows the tags above; anything else is not a tenant's text.
            raise _problem(gettext("The text uses something an e-mail cannot contain."))


def _lookup_allowed(
    lookups: tuple[str, ...], names: frozenset[str], loop_names: frozenset[str]
) -> bool:
    head, rest = lookups[0], lookups[1:]
    if head == "forloop" and head in loop_names:
        return all(part in _FORLOOP_ATTRIBUTES for part in rest)
    # A value is a plain string or number: reading into it (``x.upper``) is not offered.
    return not rest and (head in names or head in loop_names)


def template_check(text: str, *, kind: str | None = None) -> Template:
    """The compiled text, or ValidationError naming the tag, filter or value it may not
    use. Without ``kind`` only the tags and filters are checked."""
    template = _syntax_check(text)
    if kind is None:
        return template
    names = template_kind(kind).variable_names
    for lookups, loop_names in _used(template.nodelist, frozenset()):
        if not _lookup_allowed(lookups, names, loop_names):
            raise _problem(
                gettext("“%(name)s” is not a value this e-mail has. Use one of: %(names)s."),
                name=".".join(lookups),
                names=", ".join(sorted(names)),
            )
    return template


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, Decimal, float, bool)):
        return "" if value is None else value
    # Anything else becomes its text: a lookup never reaches an object's attributes.
    return str(value)


def template_render(text: str, context: Mapping[str, Any], *, kind: str) -> str:
    """A tenant's text rendered with the kind's values only (plain text, no escaping:
    the HTML part escapes the result)."""
    template = template_check(text, kind=kind)
    values = {name: _plain(context.get(name, "")) for name in template_kind(kind).variable_names}
    return template.render(Context(values, autoescape=False))


# --- the built-in text, as a tenant would write it -------------------------------

_BLOCK_RE = re.compile(
    r"{%\s*blocktranslate\s*%}(?P<text>.*?){%\s*endblocktranslate\s*%}", re.DOTALL
)
_TRANSLATE_RE = re.compile(r"""{%\s*translate\s+(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)')\s*%}""")
_LOAD_RE = re.compile(r"{%\s*load\s+i18n\s*%}")
_PLACEHOLDER_RE = re.compile(r"{{\s*(\w+)\s*}}")
_FORMAT_RE = re.compile(r"%\((\w+)\)s")


def _block_translated(match: re.Match[str]) -> str:
    # blocktranslate's message id: the text with each {{ name }} as %(name)s.
    text = match.group("text")
    message = _PLACEHOLDER_RE.sub(lambda m: f"%({m.group(1)})s", text.replace("%", "%%"))
    translated = gettext(message)
    return _FORMAT_RE.sub(lambda m: "{{ " + m.group(1) + " }}", translated).replace("%%", "%")


def _to_tenant_text(source: str) -> str:
    source = _LOAD_RE.sub("", source)
    source = _BLOCK_RE.sub(_block_translated, source)
    return _TRANSLATE_RE.sub(lambda m: gettext(m.group("dq") or m.group("sq") or ""), source)


def builtin_text(kind: str, language: str) -> tuple[str, str]:
    """The built-in subject and body of ``kind`` in ``language``, written in the tenant's
    template language, so the editor starts from what clients receive today."""
    folder = template_kind(kind).folder
    engine = engines["django"].engine
    with translation.override(language or None):
        subject = _to_tenant_text(engine.get_template(f"{folder}/{kind}_subject.txt").source)
        body = _to_tenant_text(engine.get_template(f"{folder}/{kind}_body.txt").source)
    return subject.strip(), body.strip()
