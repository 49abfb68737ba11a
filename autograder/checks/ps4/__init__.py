"""Assignment 4 checks: ``a ** b``, ``softplus``, ``gelu``, ``cross_entropy``, ``Optimizer.zero_grad``,
``SGD``, ``Adam``, ``AdamW`` and ``train``.

Every check drives student code through adapter programs and compares what it reads back
(plain numbers and type names) with ``zengrad_ref`` computed here: an *absolute* comparison.
One check per graded cell, and a bug costs the points of its own cell only:

* ``pow``: the operator alone (``a ** b``), a reused input (``a ** a``), a constant base
  (``2 ** b``, the given ``__rpow__``) and composed with itself (``(a ** b) ** c``), each
  ``_backward`` driven on its own with a non-unit upstream gradient and inputs that already hold
  a gradient (kit ``Graph`` + ``compare``: reference and central differences); extreme inputs
  against the reference only; then the domain: a base ``<= 0`` must raise a ``ValueError``
  that shows the base when the node is made;
* ``softplus``/``gelu``: the same idea for this assignment's own operators (registered in the
  kit's operator table, one line each): ``f(a)``, ``f(f(a))``, ``f(a) + f(a)`` (kit
  ``compare_batch``), and +-1000, +-30 and 0 against the reference;
* ``cross_entropy``: random logits (a logit may appear several times in the list), ties and
  +-1000, target and upstream gradient; the node's own ``_backward`` alone must reach every
  logit (one fused node), against the reference and central differences;
* ``zero_grad``: the student's ``Optimizer`` over fresh ``Value``\\ s, and ``Value``\\ s that are not
  its parameters (left alone);
* ``sgd``/``adam``/``adamw``: trajectories over several steps from random parameters and
  gradients (set before each ``step()``) against ``zengrad_ref.optim``: the parameters are
  fresh ``Value``\\ s made by the check (known-good parameters); ``adamw`` runs the student's
  ``AdamW`` on the grader's own ``Adam`` (``pieces/ps4.py``: the notebook's ``AdamW`` calls
  ``Adam.__init__``/``Adam.step`` by name);
* ``train``: the student's ``train`` with the grader's own ``MLP``, ``cross_entropy`` and
  ``Adam``: two small cases whose losses and final weights are compared with ``zengrad_ref``'s
  training, then ``MLP(2, [16, 16, 3])`` on 45 spiral points for 60 steps from fixed weights,
  whose training accuracy is computed here from the weights read back.

The property checks are hypothesis properties over batches of cases (one program, one round
trip each) that shrink to the smallest failing case, followed by fixed regression cases (the
notebook's), so a classic bug is caught whatever hypothesis generates. A wrong number gets a
hint when an alternative computed here (the classic bug's) matches it exactly.
"""

from __future__ import annotations

from autograder.checks import register
from autograder.checks.kit.strategies import reals
from autograder.checks.kit.training import training_check
from autograder.checks.ps4 import operators, optimizers
from autograder.checks.ps4.optimizers import (
    ACCURACY_CASE,
    TRAIN_CASES,
    TRAIN_POINTS,
    TRAIN_SEED,
    TRAIN_STEPS,
    TRAIN_TARGET,
    TRAINING,
)

__all__ = ["ACCURACY_CASE", "TRAINING", "TRAIN_CASES", "TRAIN_POINTS", "TRAIN_SEED", "TRAIN_STEPS", "TRAIN_TARGET"]

register("ps4.pow", "a ** b")(operators.pow_check)
register("ps4.softplus", "softplus(a)")(operators.activation_check("softplus", reals(-30.0, 30.0)))
register("ps4.gelu", "gelu(a)")(operators.activation_check("gelu", reals(-6.0, 6.0)))
register("ps4.cross_entropy", "cross_entropy(logits, target)")(operators.cross_entropy_check)
register("ps4.zero_grad", "Optimizer.zero_grad")(optimizers.zero_grad_check)
register("ps4.sgd", "SGD")(optimizers.optimizer_check("SGD", 14))
register("ps4.adam", "Adam")(optimizers.optimizer_check("Adam", 14))
register("ps4.adamw", "AdamW")(optimizers.optimizer_check("AdamW", 10))
register("ps4.train", "train")(training_check(TRAIN_CASES, ACCURACY_CASE, TRAIN_TARGET))

