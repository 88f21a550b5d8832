"""Chat models: the base class, callbacks, and the offline demo model."""

from ._base import ChatModel, ModelInput
from ._callbacks import CallbackHandler, Run
from ._demo import DemoModel
from ._driver import Timeouts
from ._registry import init_chat_model

__all__ = [
    "CallbackHandler",
    "ChatModel",
    "DemoModel",
    "ModelInput",
    "Run",
    "Timeouts",
    "init_chat_model",
]
