"""``init_chat_model``: a model from a ``"provider"`` or ``"provider:model"`` string.

Providers that speak OpenAI's Chat Completions are presets of ``OpenAIChat``
(a base URL and the environment variable that holds the key); the HTTP
providers are imported only when asked for, so the offline demo model works
without ``httpx`` installed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._errors import InvalidInputError
from ._demo import DemoModel

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._base import ChatModel

__all__ = ["COMPATIBLE_SERVERS", "PROVIDERS", "CompatibleServer", "init_chat_model"]


@dataclass(frozen=True)
class CompatibleServer:
    """An OpenAI-compatible Chat Completions endpoint."""

    base_url: str
    key_env: tuple[str, ...] = ()
    base_url_env: str | None = None
    requires_api_key: bool = True


COMPATIBLE_SERVERS: dict[str, CompatibleServer] = {
    "openai": CompatibleServer("https://api.openai.com/v1", ("OPENAI_API_KEY",), "OPENAI_BASE_URL"),
    "deepseek": CompatibleServer("https://api.deepseek.com", ("DEEPSEEK_API_KEY",)),
    "groq": CompatibleServer("https://api.groq.com/openai/v1", ("GROQ_API_KEY",)),
    "mistral": CompatibleServer("https://api.mistral.ai/v1", ("MISTRAL_API_KEY",)),
    "openrouter": CompatibleServer("https://openrouter.ai/api/v1", ("OPENROUTER_API_KEY",)),
    "xai": CompatibleServer("https://api.x.ai/v1", ("XAI_API_KEY",)),
    "perplexity": CompatibleServer("https://api.perplexity.ai", ("PERPLEXITY_API_KEY",)),
    "qwen": CompatibleServer(
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1", ("DASHSCOPE_API_KEY",)
    ),
    "together": CompatibleServer("https://api.together.xyz/v1", ("TOGETHER_API_KEY",)),
    "fireworks": CompatibleServer("https://api.fireworks.ai/inference/v1", ("FIREWORKS_API_KEY",)),
    # Local servers: no key needed (one is sent if the variable is set).
    "ollama": CompatibleServer(
        "http://localhost:11434/v1", ("OLLAMA_API_KEY",), "OLLAMA_BASE_URL", False
    ),
    "vllm": CompatibleServer("http://localhost:8000/v1", ("VLLM_API_KEY",), "VLLM_BASE_URL", False),
    "lmstudio": CompatibleServer("http://localhost:1234/v1", (), "LMSTUDIO_BASE_URL", False),
    "llamacpp": CompatibleServer("http://localhost:8080/v1", (), "LLAMACPP_BASE_URL", False),
}
"""Provider name to endpoint, for every OpenAI-compatible preset."""


def _compatible(name: str) -> Callable[..., ChatModel]:
    server = COMPATIBLE_SERVERS[name]

    def factory(**kwargs: Any) -> ChatModel:
        from ..providers import OpenAIChat  # noqa: PLC0415 - httpx only when asked for

        if "base_url" not in kwargs:
            env = os.environ.get(server.base_url_env) if server.base_url_env else None
            kwargs["base_url"] = env or server.base_url
        if "requires_api_key" not in kwargs:
            # The provider's own endpoint needs its key; another server (a
            # proxy, a local one behind --base-url) may need none.
            own = str(kwargs["base_url"]).rstrip("/") == server.base_url.rstrip("/")
            kwargs["requires_api_key"] = server.requires_api_key and own
        # The preset's own key variables only: never another provider's key.
        kwargs.setdefault("api_key_env", server.key_env)
        return OpenAIChat(provider=name, **kwargs)

    return factory


def _responses(**kwargs: Any) -> ChatModel:
    from ..providers import OpenAIResponses  # noqa: PLC0415

    if "base_url" not in kwargs and os.environ.get("OPENAI_BASE_URL"):
        kwargs["base_url"] = os.environ["OPENAI_BASE_URL"]
    return OpenAIResponses(**kwargs)


def _anthropic(**kwargs: Any) -> ChatModel:
    from ..providers import AnthropicChat  # noqa: PLC0415

    if "base_url" not in kwargs and os.environ.get("ANTHROPIC_BASE_URL"):
        kwargs["base_url"] = os.environ["ANTHROPIC_BASE_URL"]
    return AnthropicChat(**kwargs)


def _gemini(**kwargs: Any) -> ChatModel:
    from ..providers import GeminiChat  # noqa: PLC0415

    return GeminiChat(**kwargs)


PROVIDERS: dict[str, Callable[..., ChatModel]] = {
    "demo": DemoModel,
    **{name: _compatible(name) for name in COMPATIBLE_SERVERS},
    "openai-responses": _responses,
    "anthropic": _anthropic,
    "gemini": _gemini,
    "google": _gemini,
}
"""Provider name to factory. A factory takes the model's keyword arguments
(``model=`` among them when the spec names one) and returns a ``ChatModel``."""


def init_chat_model(spec: str, **kwargs: Any) -> ChatModel:
    """The model ``spec`` names: ``"provider"`` or ``"provider:model"``.

    Providers: ``demo`` (offline), ``openai``, ``openai-responses``,
    ``anthropic``, ``gemini`` (or ``google``), and the OpenAI-compatible
    presets in :data:`COMPATIBLE_SERVERS` (``deepseek``, ``groq``,
    ``mistral``, ``openrouter``, ``xai``, ``ollama``, ``vllm``, ...). The
    model name may itself contain colons (``"ollama:llama3.2:3b"``).

    ``kwargs`` go to the provider's factory (``base_url=``, ``api_key=``,
    ``temperature=``...). Raises ``InvalidInputError`` for an unknown
    provider (listing the known ones), an empty model name, or a model named
    both in ``spec`` and as ``model=``.
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
