"""Benchmarks comparing streamblocks with the reference it mirrors.

The reference is ``langchain_core.language_models.chat_model_stream`` from langchain-core
1.8.1. Run everything with ``make bench`` or ``python -m benchmarks``; see
``python -m benchmarks --help`` and ``docs/benchmarks.md``.
"""
