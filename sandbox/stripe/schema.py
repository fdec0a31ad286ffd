"""What Stripe accepts and returns, as the installed ``stripe`` library says it for the API
version it pins (``stripe.api_version``): the local Stripe checks every request against
this, so it is strict by a definition written by Stripe, not by us.

Stripe generates the library from its OpenAPI definition
(https://github.com/stripe/openapi, ``spec3.sdk.json`` of the pinned version):

- endpoints: every generated service method (``stripe/**/_*_service.py``) calls
  ``self._request("<verb>", "/v1/...")`` with ``params`` typed by a generated
  ``TypedDict`` (``stripe/params/``); they are read from the services' source, without
  importing them;
- parameters: those ``TypedDict``s, nested hashes, lists, ``expand[]`` and the free keys
  of ``metadata`` included;
- objects: the resource classes the library maps each ``object`` value to
  (``stripe._object_classes``), whose annotations declare every field.
"""

from __future__ import annotations

import ast
import importlib
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, Union

import stripe
from stripe._object_classes import OBJECT_CLASSES
from stripe._request_options import RequestOptions
from stripe._stripe_object import StripeObject, UntypedStripeObject
from typing_extensions import is_typeddict

API_VERSION: str = stripe.api_version
LIBRARY_VERSION: str = stripe.VERSION

# Request options share the params' TypedDict in the library but travel as headers.
_OPTION_KEYS = frozenset(RequestOptions.__annotations__)


class ParamError(Exception):
    """A request Stripe would refuse before looking at it: Stripe's own error fields."""

    def __init__(self, message: str, *, param: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


@dataclass(frozen=True)
class Endpoint:
    """One API call as the library makes it: ``POST /v1/payment_intents/{intent}/confirm``
    with ``PaymentIntentConfirmParams``."""

    method: str
    template: str
    params_name: str | None
    params_module: str | None

    @property
    def pattern(self) -> re.Pattern[str]:
        return _template_pattern(self.template)

    def params_type(self) -> type | None:
        if not self.params_name or not self.params_module:
            return None
        return _params_class(self.params_module, self.params_name)


@cache
def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[a-z_]+\}", template)
    return re.compile("[^/]+".join(re.escape(part) for part in parts))


@cache
def _params_class(module: str, name: str) -> type:
    return getattr(importlib.import_module(module), name)


def _literal_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _annotation_name(node: ast.AST | None) -> str | None:
    """``"XParams"`` or ``Optional["XParams"]`` → ``XParams``."""
    if node is None:
        return None
    name = _literal_str(node)
    if name is not None:
        return name
    if isinstance(node, ast.Subscript):
        return _annotation_name(node.slice)
    return None


def _request_call(function: ast.FunctionDef) -> tuple[str, str] | None:
    """The verb and path template of the ``self._request(...)`` in a service method."""
    for node in ast.walk(function):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("_request", "_request_stream")
            and len(node.args) >= 2
        ):
            continue
        verb = _literal_str(node.args[0])
        path_node = node.args[1]
        if isinstance(path_node, ast.Call) and isinstance(path_node.func, ast.Attribute):
            path_node = path_node.func.value  # "/v1/x/{id}".format(...)
        path = _literal_str(path_node)
        if verb and path:
            return verb.upper(), path
    return None


def _service_endpoints(source: str) -> list[Endpoint]:
    tree = ast.parse(source)
    imported: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("stripe.params"):
            for alias in node.names:
                imported[alias.asname or alias.name] = node.module or ""
    found = []
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for function in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
            call = _request_call(function)
            if call is None or not call[1].startswith("/v1/"):
                continue
            arguments = function.args.args + function.args.kwonlyargs
            params = next((a for a in arguments if a.arg == "params"), None)
            name = _annotation_name(params.annotation if params else None)
            found.append(Endpoint(call[0], call[1], name, imported.get(name or "")))
    return found


@cache
def endpoints() -> tuple[Endpoint, ...]:
    """Every v1 endpoint of the installed library."""
    root = Path(stripe.__file__).parent
    found: dict[tuple[str, str], Endpoint] = {}
    for path in sorted(root.rglob("_*_service.py")):
        for endpoint in _service_endpoints(path.read_text(encoding="utf-8")):
            found.setdefault((endpoint.method, endpoint.template), endpoint)
    return tuple(found.values())


def endpoint_for(method: str, path: str) -> Endpoint | None:
    """The endpoint a request is for; a literal segment wins over a placeholder
    (``/v1/customers/search`` is not a customer called "search")."""
    matches = [e for e in endpoints() if e.method == method.upper() and e.pattern.fullmatch(path)]
    if not matches:
        return None
    return min(matches, key=lambda e: (e.template.count("{"), e.template))


# --- parameters -----------------------------------------------------------------------


@cache
def _fields(typed_dict: type) -> dict[str, Any]:
    # The request options' own annotations name types imported for type checkers only;
    # they are never parameters, so any stand-in resolves them.
    return typing.get_type_hints(typed_dict, localns={"StripeContext": object, "Mapping": Mapping})


def parameter_names(typed_dict: type) -> frozenset[str]:
    """The top-level parameters of a call (request options excluded)."""
    return frozenset(_fields(typed_dict)) - _OPTION_KEYS


def params_check(endpoint: Endpoint, params: Mapping[str, Any]) -> None:
    """Raises ParamError for the first parameter the call does not take or whose shape
    (hash, list, integer, boolean) is not the one declared."""
    params_check_type(endpoint.params_type(), params)


def params_check_type(typed_dict: type | None, params: Mapping[str, Any]) -> None:
    """``params_check`` against one generated ``TypedDict`` (None: the call takes none)."""
    if typed_dict is None:
        if params:
            name = next(iter(params))
            raise ParamError(f"Received unknown parameter: {name}", param=name, code=_UNKNOWN)
        return
    _check_hash(typed_dict, params, prefix="", top=True)


_UNKNOWN = "parameter_unknown"


def _param_name(prefix: str, key: str | int) -> str:
    return f"{prefix}[{key}]" if prefix else str(key)


def _check_hash(typed_dict: type, value: Mapping[str, Any], *, prefix: str, top: bool) -> None:
    fields = _fields(typed_dict)
    for key, item in value.items():
        name = _param_name(prefix, key)
        if key not in fields or (top and key in _OPTION_KEYS):
            raise ParamError(f"Received unknown parameter: {name}", param=name, code=_UNKNOWN)
        _check_value(fields[key], item, name)


def _alternatives(hint: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(hint)
    if origin is Union or origin is types.UnionType:
        return typing.get_args(hint)
    return (hint,)


def _check_value(hint: Any, value: Any, name: str) -> None:
    """Accepts ``value`` if any alternative of ``hint`` accepts it; otherwise raises the
    error of the alternative that went deepest, which names the parameter at fault."""
    errors: list[ParamError] = []
    for alternative in _alternatives(hint):
        try:
            _check_one(alternative, value, name)
            return
        except ParamError as exc:
            errors.append(exc)
    # An unknown key deep inside a hash says more than "this is not a string".
    errors.sort(key=lambda e: (e.code == _UNKNOWN, len(e.param), e.code is not None), reverse=True)
    raise errors[0]


def _check_one(hint: Any, value: Any, name: str) -> None:
    origin = typing.get_origin(hint)
    if hint is Any or hint is object:
        return
    if origin is Literal:
        if isinstance(value, str) and value in [str(v) for v in typing.get_args(hint)]:
            return
        choices = ", ".join(str(v) for v in typing.get_args(hint))
        raise ParamError(f"Invalid {name}: must be one of {choices}", param=name)
    if isinstance(hint, type) and is_typeddict(hint):
        if not isinstance(value, dict):
            raise ParamError(f"Invalid hash: {name}", param=name, code="parameter_invalid_hash")
        _check_hash(hint, value, prefix=name, top=False)
        return
    if origin in (list, typing.List):  # noqa: UP006 - the library's annotations use it
        if not isinstance(value, list):
            raise ParamError(f"Invalid array: {name}", param=name, code="parameter_invalid_array")
        (item_hint,) = typing.get_args(hint) or (Any,)
        for index, item in enumerate(value):
            _check_value(item_hint, item, _param_name(name, index))
        return
    if origin in (dict, typing.Dict) or _is_untyped_object(hint):  # noqa: UP006
        if value == "":
            # Free-key hashes (metadata) are emptied by posting an empty value.
            return
        if not isinstance(value, dict):
            raise ParamError(f"Invalid hash: {name}", param=name, code="parameter_invalid_hash")
        args = typing.get_args(hint)
        item_hint = args[1] if len(args) == 2 else (args[0] if args else Any)
        for key, item in value.items():
            _check_value(item_hint, item, _param_name(name, key))
        return
    if not isinstance(value, str):
        raise ParamError(f"Invalid string: {name}", param=name, code="parameter_invalid_string")
    if hint is bool and value not in ("true", "false"):
        raise ParamError(f"Invalid boolean: {value}", param=name)
    if hint is int and not re.fullmatch(r"-?\d+", value):
        raise ParamError(f"Invalid integer: {value}", param=name, code="parameter_invalid_integer")
    if hint is float and not re.fullmatch(r"-?\d+(\.\d+)?", value):
        raise ParamError(f"Invalid decimal: {value}", param=name)


def _is_untyped_object(hint: Any) -> bool:
    target = typing.get_origin(hint) or hint
    return isinstance(target, type) and issubclass(target, UntypedStripeObject)


# --- objects --------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    name: str
    nullable: bool
    # The nested object's class, when the field holds one (``next_action`` ...).
    nested: type | None = None


def resource_class(object_name: str) -> type[StripeObject] | None:
    """The library's class for an ``object`` value ("payment_intent", "checkout.session")."""
    entry = OBJECT_CLASSES.get(object_name)
    if entry is None:
        return None
    module, name = entry
    return getattr(importlib.import_module(module), name)


@cache
def declared_fields(cls: type) -> dict[str, Field]:
    """The fields a resource (or nested) class declares, and whether each may be null."""
    fields: dict[str, Field] = {}
    for name, hint in vars(cls).get("__annotations__", {}).items():
        if name.startswith("_") or name.isupper():
            continue
        text = hint if isinstance(hint, str) else repr(hint)
        if "ClassVar" in text:
            continue
        nullable = "Optional[" in text or "None" in text
        nested = None
        for candidate in re.findall(r"\b([A-Z]\w+)\b", text):
            inner = vars(cls).get(candidate)
            if isinstance(inner, type) and issubclass(inner, StripeObject):
                nested = inner
                break
        fields[name] = Field(name, nullable, nested)
    return fields
