"""Request parameters every provider understands, and tool definitions.

Each provider's request builder takes the same :class:`GenerationParams` and
translates them (``max_tokens`` is ``max_output_tokens`` for Responses and
``generationConfig.maxOutputTokens`` for Gemini, and so on). Unknown keys
raise ``InvalidInputError`` before anything is sent; ``extra_body`` is the
escape hatch for provider fields we do not model, merged into the request
body as given.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from .._errors import InvalidInputError

if sys.version_info >= (3, 11):
    from typing import TypedDict
else:  # pragma: no cover - exercised only on 3.10
    from typing_extensions import TypedDict

__all__ = [
    "PARAM_NAMES",
    "GenerationParams",
    "ReasoningEffort",
    "ToolSchema",
    "check_params",
    "merge_extra_body",
    "normalize_tools",
]

ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]


class ToolSchema(TypedDict):
    """A client tool, in the provider-neutral form every builder starts from."""

    name: str
    description: str
    parameters: dict[str, Any]
    """A JSON schema for the arguments object."""


class GenerationParams(TypedDict, total=False):
    temperature: float
    top_p: float
    max_tokens: int
    stop: str | Sequence[str]
    tools: Sequence[Any]
    """JSON-schema dicts (``{"name", "description", "parameters"}``, or OpenAI's
    ``{"type": "function", "function": {...}}``), or pydantic model classes."""
    tool_choice: str | Mapping[str, Any]
    """``"auto"``, ``"none"``, ``"required"`` (any tool), or a tool's name."""
    reasoning_effort: ReasoningEffort
    thinking_budget: int
    """Reasoning tokens allowed (Anthropic ``budget_tokens``, Gemini ``thinkingBudget``)."""
    include_reasoning: bool
    """Ask for reasoning summaries / thoughts where the provider hides them by default."""
    include_usage: bool
    """OpenAI Chat only: ``stream_options.include_usage`` (default ``True``)."""
    choice: int
    """OpenAI Chat only: which choice to stream when ``n > 1`` (default 0)."""
    n: int
    seed: int
    user: str
    extra_body: Mapping[str, Any]


PARAM_NAMES = frozenset(GenerationParams.__annotations__)


def check_params(params: Mapping[str, Any], provider: str) -> None:
    """Raise ``InvalidInputError`` for an unknown parameter, naming the known ones."""
    unknown = sorted(set(params) - PARAM_NAMES)
    if unknown:
        known = ", ".join(sorted(PARAM_NAMES))
        msg = (
            f"unknown parameter(s) for {provider}: {', '.join(unknown)}; known: {known}. "
            "Pass provider-specific fields in extra_body={...}"
        )
        raise InvalidInputError(msg)


def normalize_tools(tools: Sequence[Any]) -> list[ToolSchema]:
    """Every accepted tool form, as :class:`ToolSchema`.

    Accepts ``{"name", "description"?, "parameters"?}`` (``input_schema`` is
    taken as ``parameters`` too), OpenAI's ``{"type": "function", "function":
    {...}}``, and classes with ``model_json_schema()`` (pydantic models, whose
    docstring becomes the description). Anything else raises
    ``InvalidInputError`` naming the tool's position.
    """
    out: list[ToolSchema] = []
    for i, tool in enumerate(tools):
        schema_fn = getattr(tool, "model_json_schema", None)
        if isinstance(tool, type) and callable(schema_fn):
            schema = dict(schema_fn())
            description = schema.pop("description", None) or (tool.__doc__ or "").strip()
            schema.pop("title", None)
            out.append({"name": tool.__name__, "description": description, "parameters": schema})
            continue
        if not isinstance(tool, Mapping):
            msg = (
                f"tools[{i}]: expected a JSON-schema dict or a pydantic model class, "
                f"got {type(tool).__name__}"
            )
            raise InvalidInputError(msg)
        spec: Mapping[str, Any] = tool
        if tool.get("type") == "function" and isinstance(tool.get("function"), Mapping):
            spec = tool["function"]
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            msg = f"tools[{i}]: a tool needs a non-empty 'name'"
            raise InvalidInputError(msg)
        params = spec.get("parameters", spec.get("input_schema"))
        if params is None:
            params = {"type": "object", "properties": {}}
        if not isinstance(params, Mapping):
            msg = f"tools[{i}] ({name}): 'parameters' must be a JSON schema object"
            raise InvalidInputError(msg)
        description = spec.get("description") or ""
        if not isinstance(description, str):
            msg = f"tools[{i}] ({name}): 'description' must be a string"
            raise InvalidInputError(msg)
        out.append({"name": name, "description": description, "parameters": dict(params)})
    return out


def merge_extra_body(body: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with ``params["extra_body"]`` merged in last (shallowly), so that
    provider fields we do not model can still be sent, or ours overridden."""
    extra = params.get("extra_body")
    if extra is not None:
        if not isinstance(extra, Mapping):
            msg = f"extra_body must be a mapping, got {type(extra).__name__}"
            raise InvalidInputError(msg)
        body.update(extra)
    return body
