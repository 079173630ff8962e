"""A Python function as a tool: its name, docstring and type hints as the JSON Schema spec the
chat template and the tool-call grammar read.

``Assistant(tools=[get_weather])`` is ``tools=[function_spec(get_weather)]``. The function is
never called here: the model's call comes back as ``reply.tool_calls``, for the app to run.
"""

from __future__ import annotations

import enum
import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Any

from .errors import InvalidRequestError

__all__ = ["Tool", "function_spec"]

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


def _schema(hint: Any, where: str) -> dict[str, Any]:
    """The JSON Schema of one type hint; an InvalidRequestError naming ``where`` for one it has none."""
    if hint in _SCALARS:
        return dict(_SCALARS[hint])
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        return _schema(args[0], where)
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_schema(a, where) for a in args]}
    if origin is typing.Literal:
        if not all(isinstance(a, (str, int, float, bool)) or a is None for a in args):
            raise InvalidRequestError(f"{where}: a Literal of JSON values only (str, int, float, bool, None).", "tools")
        return {"enum": list(args)}
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple, set, frozenset):
        if origin is tuple and args and args[-1] is not Ellipsis:
            items = [_schema(a, where) for a in args]
            return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}
        out: dict[str, Any] = {"type": "array"}
        if args:
            out["items"] = _schema(args[0], where)
        if origin in (set, frozenset) or hint in (set, frozenset):
            out["uniqueItems"] = True
        return out
    if origin is dict or hint is dict:
        if args and args[0] is not str:
            raise InvalidRequestError(f"{where}: a dict's keys are JSON object keys, so str.", "tools")
        return {"type": "object", **({"additionalProperties": _schema(args[1], where)} if args else {})}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": [m.value for m in hint]}
    schema_of = getattr(hint, "model_json_schema", None)  # a pydantic model: its own schema
    if callable(schema_of):
        return schema_of()
    raise InvalidRequestError(
        f"{where} is annotated {getattr(hint, '__name__', hint)!r}, which has no JSON Schema here: use str, int, "
        "float, bool, list, dict, Literal, an Enum, Optional, or a pydantic model, or pass the spec as a dict.",
        "tools",
    )


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


def function_spec(fn: Callable[..., Any]) -> dict[str, Any]:
    """``{"type": "function", "function": {name, description, parameters}}`` for ``fn``: a
    parameter without a default is required; one without a hint takes any JSON value."""
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
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise InvalidRequestError(f"Tool {name!r}: *{param.name} has no JSON Schema; name each parameter.", "tools")
        schema = _schema(hints[param.name], f"Tool {name!r}, parameter {param.name!r}") if param.name in hints else {}
        if param.name in arg_docs:
            schema["description"] = arg_docs[param.name]
        properties[param.name] = schema
        if param.default is param.empty:
            required.append(param.name)
    parameters = {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
    spec: dict[str, Any] = {"name": name, "parameters": parameters}
    if description:
        spec["description"] = description
    return {"type": "function", "function": spec}
