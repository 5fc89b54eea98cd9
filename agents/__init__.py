"""The three agent roles (designer, critic, learner), the model factory and structured asking."""

from agents.llm import llm_for
from agents.structured import Asker, Usage
from errors import LLMError

__all__ = ["Asker", "LLMError", "Usage", "llm_for"]
