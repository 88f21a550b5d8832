"""Chat models: the base class, callbacks, and the offline demo model."""

from ._base import ChatModel, ModelInput
from ._callbacks import CallbackHandler, Run
from ._driver import Timeouts

__all__ = ["CallbackHandler", "ChatModel", "ModelInput", "Run", "Timeouts"]
