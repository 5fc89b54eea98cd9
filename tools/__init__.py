"""Typed functions the agents call, each wrapped as a LangChain tool."""

from tools.evaluate import evaluator

__all__ = ["evaluator"]
