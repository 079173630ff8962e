"""A Python function as a tool: its name, docstring and type hints as the JSON Schema spec the
chat template and the tool-call grammar read.

``Assistant(tools=[get_weather])`` is ``tools=[function_spec(get_weather)]``. The function is
never called here: the model's call comes back as ``reply.tool_calls``, for the app to run.
"""

from __future__ import annotations

import enum
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

from .errors import GrammarError, InvalidRequestError
from .types import is_list

__all__ = ["Tool", "function_spec", "tool_specs"]

# what ``tools=`` takes: a spec (OpenAI's ``{"type": "function", "function": {...}}`` or its inner
# dict), or a Python function
Tool = dict[str, Any] | Callable[..., Any]

_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
    Any: {},
}
_ARG_LINE = re.compile(r"^\s*(\w+)\s*(?:\([^)]*\))?\s*:\s*(.+)$")


def _schema(hint: Any, where: str, defs: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of one type hint (the ``$defs`` it needs join ``defs``); an
    InvalidRequestError naming ``where`` for one it has none."""
    if hint in _SCALARS:
        return dict(_SCALARS[hint])
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        return _schema(args[0], where, defs)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_schema(a, where, defs) for a in args]}
    if origin is typing.Literal:
        if not all(isinstance(a, (str, int, float, bool)) or a is None for a in args):
            raise InvalidRequestError(f"{where}: a Literal of JSON values only (str, int, float, bool, None).", "tools")
        return {"enum": list(args)}
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple, set, frozenset):
        if origin is tuple and args and args[-1] is not Ellipsis:
            items = [_schema(a, where, defs) for a in args]
            return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}
        out: dict[str, Any] = {"type": "array"}
        if args:
            out["items"] = _schema(args[0], where, defs)
        if origin in (set, frozenset) or hint in (set, frozenset):
            out["uniqueItems"] = True
        return out
    if origin is dict or hint is dict:
        if args and args[0] is not str:
            raise InvalidRequestError(f"{where}: a dict's keys are JSON object keys, so str.", "tools")
        return {"type": "object", **({"additionalProperties": _schema(args[1], where, defs)} if args else {})}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": [m.value for m in hint]}
    # anything else pydantic reads (a model, a dataclass, Decimal, datetime): the schema a response
    # format of that type gets, with its Decimal pattern and formats
    from .runtime.formats import ResponseFormat

    try:
        return _hoist_defs(dict(ResponseFormat.of(hint).schema or {}), defs, where)
    except GrammarError as exc:
        raise InvalidRequestError(
            f"{where} is annotated {getattr(hint, '__name__', hint)!r}, which has no JSON Schema here: use str, "
            "int, float, bool, list, dict, Literal, an Enum, Optional, or a type pydantic reads, or pass the spec "
            "as a dict.",
            "tools",
        ) from exc


def _hoist_defs(schema: dict[str, Any], defs: dict[str, Any], where: str) -> dict[str, Any]:
    """``schema`` without its ``$defs``, which join ``defs``: its ``#/$defs/...`` references are
    then read against the parameters object, the root of the tool's schema, wherever it sits."""
    own = schema.pop("$defs", None) or {}
    for key, value in own.items():
        if defs.setdefault(key, value) != value:
            raise InvalidRequestError(f"{where}: two different types are both named {key!r}; rename one.", "tools")
    return schema


def _docs(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """The docstring's first paragraph, and each parameter's line under "Args:" (Google style)."""
    doc = inspect.getdoc(fn) or ""
    head, _, rest = doc.partition("\n\n")
    args: dict[str, str] = {}
    section = re.split(r"^(?:Args|Arguments|Parameters):\s*$", rest if rest else "", maxsplit=1, flags=re.M)
    if len(section) == 2:
        for line in section[1].splitlines():
            if line.strip() and not line.startswith((" ", "\t")):
                break  # the next section
            m = _ARG_LINE.match(line)
            if m:
                args[m.group(1)] = m.group(2).strip()
    return " ".join(head.split()), args


_NO_DEFAULT = object()


def _json_default(value: Any) -> Any:
    """A parameter's default as JSON (an Enum member as its value), or _NO_DEFAULT where it has
    none (an object the app builds): then the spec says nothing rather than something wrong."""
    value = value.value if isinstance(value, enum.Enum) else value
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return _NO_DEFAULT


def function_spec(fn: Callable[..., Any]) -> dict[str, Any]:
    """``{"type": "function", "function": {name, description, parameters}}`` for ``fn``: a
    parameter without a default is required, one with a JSON default says it (``default``); one
    without a hint takes any JSON value."""
    name = getattr(fn, "__name__", "")
    if not name or name == "<lambda>":
        raise InvalidRequestError("A tool function needs a name: define it with def, or pass a spec dict.", "tools")
    try:
        signature = inspect.signature(fn)
        hints = typing.get_type_hints(fn, include_extras=True)
    except (TypeError, ValueError, NameError) as exc:
        raise InvalidRequestError(
            f"Tool {name!r}: its type hints cannot be read ({exc}); define the types they name at module "
            "level, or pass the spec as a dict.",
            "tools",
        ) from exc
    description, arg_docs = _docs(fn)
    properties: dict[str, Any] = {}
    required: list[str] = []
    defs: dict[str, Any] = {}
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            stars = "*" if param.kind is param.VAR_POSITIONAL else "**"
            raise InvalidRequestError(
                f"Tool {name!r}: {stars}{param.name} has no JSON Schema; name each parameter.", "tools"
            )
        where = f"Tool {name!r}, parameter {param.name!r}"
        schema = _schema(hints[param.name], where, defs) if param.name in hints else {}
        if param.name in arg_docs:
            schema["description"] = arg_docs[param.name]
        properties[param.name] = schema
        if param.default is param.empty:
            required.append(param.name)
        elif (default := _json_default(param.default)) is not _NO_DEFAULT:
            schema["default"] = default  # the model reads what leaving it out means
    parameters = {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
    if defs:
        parameters["$defs"] = defs
    spec: dict[str, Any] = {"name": name, "parameters": parameters}
    if description:
        spec["description"] = description
    return {"type": "function", "function": spec}


def tool_specs(tools: Sequence[Tool] | None) -> Sequence[dict[str, Any]] | None:
    """``tools`` with each Python function as its spec (the dicts as they are, for
    ``chat.normalize_tools`` to check)."""
    if callable(tools) and not isinstance(tools, dict):  # iterating one function would fail
        raise InvalidRequestError("tools must be a list of function specs or functions, got one function.", "tools")
    if tools is None or isinstance(tools, (str, dict)):
        return tools  # normalize_tools says what is wrong with these
    if not is_list(tools):
        raise InvalidRequestError(
            f"tools must be a list of function specs or functions, got {type(tools).__name__}.", "tools"
        )
    return [function_spec(t) if callable(t) else t for t in tools]
