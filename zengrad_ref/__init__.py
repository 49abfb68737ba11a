"""zengrad_ref: the reference scalar autograd engine and neural-net library.

This is the model answer instructors publish, and the oracle every hidden check
compares student gradients against. It never imports ``autograder``.

Only the engine is imported here, so ``import zengrad_ref`` is fast and needs no
third-party package; ``nn``, ``losses``, ``optim``, ``data``, ``viz`` and
``train`` are submodules (``from zengrad_ref.nn import MLP``).
"""

from zengrad_ref.engine import Value, linear, sum_values, topological_order

__all__ = ["Value", "linear", "sum_values", "topological_order"]
