"""``init_chat_model``: a model from a ``"provider"`` or ``"provider:model"`` string."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import InvalidInputError
from ._demo import DemoModel

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._base import ChatModel

__all__ = ["PROVIDERS", "init_chat_model"]

PROVIDERS: dict[str, Callable[..., ChatModel]] = {"demo": DemoModel}
"""Provider name to factory. A factory takes the model's keyword arguments
(``model=`` among them when the spec names one) and returns a ``ChatModel``."""


def init_chat_model(spec: str, **kwargs: Any) -> ChatModel:
    """The model ``spec`` names: ``"demo"`` or ``"demo:<model-name>"``.

    ``kwargs`` go to the provider's factory (``tokens_per_second=0``, for the
    demo model). Raises ``InvalidInputError`` for an unknown provider (listing
    the known ones), an empty model name, or a model named both in ``spec``
    and as ``model=``.
    """
    if not isinstance(spec, str):
        msg = f"a model spec must be a string such as 'demo', got {type(spec).__name__}"
        raise InvalidInputError(msg)
    provider, colon, name = spec.partition(":")
    factory = PROVIDERS.get(provider)
    if factory is None:
        known = ", ".join(sorted(PROVIDERS))
        msg = f"unknown model provider {provider!r} in {spec!r}; known providers: {known}"
        raise InvalidInputError(msg)
    if colon:
        if not name:
            msg = (
                f"{spec!r} names no model after the colon; use {provider!r} or '{provider}:<model>'"
            )
            raise InvalidInputError(msg)
        if "model" in kwargs:
            msg = f"{spec!r} already names the model; drop model={kwargs['model']!r}"
            raise InvalidInputError(msg)
        kwargs["model"] = name
    return factory(**kwargs)
