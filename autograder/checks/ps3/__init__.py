"""Assignment 3 checks: ``Module.zero_grad``, ``Neuron``, ``Layer``, ``MLP``, ``svm_loss``,
``sgd_step``, ``train`` and ``decision_grid``.

Every check drives student code through adapter programs and compares what it
reads back (plain numbers and type names) with ``zengrad_ref`` computed here, on
the trusted side, with the same weights and inputs: an *absolute* comparison,
never the student's part against the student's other parts (nothing in the
worker is trusted, so a relative check could be passed with forged numbers).
Weights are injected through the given attributes (``Neuron.w``/``.b``,
``Layer.neurons``, ``MLP.layers``), never through the student's
``parameters()``, so identical weights land in the student's network and in the
reference whatever ``parameters()`` returns.

Each check grades one cell, and a bug costs the points of its own cell only: a
check runs its subject with the known-good versions of every other part
(``autograder/checks/pieces/ps3.py``, executed in the worker over the student's
``Value`` with ``Program.define`` and put in place of the student's names with
``Program.override`` for that one program):

* ``zero_grad``: the student's ``Module()`` whose ``parameters`` is replaced by a
  list of fresh ``Value``s (a copy of the list on every call);
* ``neuron``: the student's ``Neuron`` (it builds on nothing but ``Value``);
* ``layer``: the student's ``Layer`` made of known-good ``Neuron``s;
* ``mlp``: the student's ``MLP`` made of known-good ``Layer``s and ``Neuron``s;
* ``loss``: lists of fresh ``Value``s; ``sgd``: a known-good bare model
  (``Params``: anything with ``parameters()``);
* ``train``: the student's ``train`` on a known-good ``MLP`` (with its own
  ``zero_grad``), with known-good ``svm_loss`` and ``sgd_step``; the losses it
  returns and the weights it leaves are compared with the same training done by
  ``zengrad_ref`` here, then ``MLP(2, [16, 16, 1])`` is trained on 40 moons and its
  training accuracy is computed here, from the weights read back;
* ``grid``: the student's ``decision_grid`` on a known-good ``Neuron(2,
  nonlin=False)``, each entry against the sign of the score computed here.

Besides the numbers, every check reads the *type names* the text asks for (one
``Value``, a list of plain floats, 0/1 ints, a list of ``Value``s), and asks for
``parameters()`` twice: the model's own ``Value`` objects, the same ones in the
same order on every call.

The per-piece checks are hypothesis properties (``SETTINGS``: derandomized, so
the same submission gets the same verdict) that report the smallest case they
find wrong, e.g. ``svm_loss(scores=[0.0], y=[1], params=[1.0]): your loss is
1.0, expected 1.0001``. Numbers are bounded floats without NaN, infinities or
subnormals: weights, biases, inputs, data and grads in [-2, 2], scores in
[-3, 3]. One hypothesis example is a *batch* of independent cases (at most 8)
run as one adapter program, i.e. one round trip to the worker; a failing batch
shrinks to its single simplest failing case. Fixed regression cases (the
notebook-sized ones) run after each property, so a classic bug is caught
whatever hypothesis generates. ``train`` runs fixed cases only (training is
deterministic and costly): two tiny ones that pin every argument, the default
``alpha``, the learning-rate schedule and the returned losses, then the
accuracy run.

A case whose answer would hinge on rounding is skipped: a ReLU input or a hinge
margin within 1e-9 of 0 (a correct student may sum in another order than the
reference, which moves the last bit and flips the ReLU's gradient), and a grid
entry whose score is within 1e-9 of 0 accepts 0 or 1.

The one unavoidable dependency is the given ``Value`` class (read-only, and the
pieces are built on it).
"""

from __future__ import annotations

from autograder.checks import register
from autograder.checks.ps3 import fitting, modules
from autograder.checks.ps3.fitting import (
    ACCURACY_CASE,
    TRAIN_CASES,
    TRAIN_HIDDEN,
    TRAIN_POINTS,
    TRAIN_SEED,
    TRAIN_STEPS,
    TRAIN_TARGET,
    TRAINING,
)
from autograder.checks.ps3.modules import NeuronCase, neuron_batch

__all__ = ["ACCURACY_CASE", "TRAINING", "TRAIN_CASES", "TRAIN_HIDDEN", "TRAIN_POINTS", "TRAIN_SEED", "TRAIN_STEPS",
           "TRAIN_TARGET", "NeuronCase", "neuron_batch"]

register("ps3.zero_grad", "Module.zero_grad")(modules.zero_grad_check)
register("ps3.neuron", "Neuron")(modules.neuron_check)
register("ps3.layer", "Layer")(modules.layer_check)
register("ps3.mlp", "MLP")(modules.mlp_check)
register("ps3.loss", "svm_loss")(fitting.loss_check)
register("ps3.sgd", "sgd_step")(fitting.sgd_check)
register("ps3.train", "train")(fitting.train_check)
register("ps3.grid", "decision_grid")(fitting.grid_check)
