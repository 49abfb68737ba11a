"""Classic bugs in assignment 3: the nn classes, the loss, the update, the loop and the grid.

One mutant (at least) per requirement the notebook's text states; each loses only
its own cell, because every hidden check runs its part with known-good versions of
the others (``autograder/checks/pieces/ps3.py``).
"""

from autograder.mutants import Edit, bug, req

ASSIGNMENT = "ps3_mlp"

_MLP_BODY = ("        self.layers = [Layer(sizes[i], sizes[i + 1], nonlin=i != len(nouts) - 1) "
             "for i in range(len(nouts))]\n"
             "\n    def __call__(self, x):\n        for layer in self.layers:\n            x = layer(x)\n"
             "        return x\n"
             "\n    def parameters(self):\n        return [p for layer in self.layers for p in layer.parameters()]")
_LAYER_PARAMS = "        return [p for n in self.neurons for p in n.parameters()]"
_MLP_PARAMS = "        return [p for layer in self.layers for p in layer.parameters()]"

MUTANTS = {
    # Module.zero_grad (zero_grad_test)
    "zero_grad_missing": bug("module_solution", "            p.grad = 0.0", "            pass", "zero_grad_test"),
    "zero_grad_resets_data": bug("module_solution", "            p.grad = 0.0", "            p.data = p.grad = 0.0",
                                 "zero_grad_test"),
    "zero_grad_to_none": bug("module_solution", "            p.grad = 0.0", "            p.grad = None",
                             "zero_grad_test"),
    "zero_grad_dedup_by_data": bug("module_solution", "        for p in self.parameters():\n",
                                   "        for p in {p.data: p for p in self.parameters()}.values():\n",
                                   "zero_grad_test"),
    "zero_grad_own_attributes": bug("module_solution", "        for p in self.parameters():",
                                    "        for p in self.w + [self.b]:", "zero_grad_test"),
    # Neuron (neuron_test)
    "neuron_bias_missing": bug("neuron_solution", "for wi, xi in zip(self.w, x)), self.b)",
                               "for wi, xi in zip(self.w, x)), 0.0)", "neuron_test"),
    "neuron_always_relu": bug("neuron_solution", "return act.relu() if self.nonlin else act", "return act.relu()",
                              "neuron_test"),
    "neuron_never_relu": bug("neuron_solution", "return act.relu() if self.nonlin else act", "return act",
                             "neuron_test"),
    "neuron_returns_float": bug("neuron_solution", "return act.relu() if self.nonlin else act",
                                "return (act.relu() if self.nonlin else act).data", "neuron_test"),
    "neuron_bias_as_number": bug("neuron_solution", "for wi, xi in zip(self.w, x)), self.b)",
                                 "for wi, xi in zip(self.w, x)), self.b.data)", "neuron_test"),
    "neuron_detaches_inputs": bug("neuron_solution", "sum((wi * xi for", "sum((wi * getattr(xi, 'data', xi) for",
                                  "neuron_test"),
    "neuron_wraps_inputs": bug("neuron_solution", "sum((wi * xi for", "sum((wi * Value(xi) for", "neuron_test"),
    "neuron_sum_syntax_error": bug("neuron_solution", "act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)",
                                   "act = sum(wi * xi for wi, xi in zip(self.w, x), self.b)", "neuron_test"),
    "neuron_bias_first": bug("neuron_solution", "return self.w + [self.b]", "return [self.b] + self.w",
                             "neuron_test"),
    "neuron_params_copies": bug("neuron_solution", "return self.w + [self.b]",
                                "return [Value(p.data) for p in self.w + [self.b]]", "neuron_test"),
    "neuron_params_appends_bias": bug("neuron_solution", "        return self.w + [self.b]",
                                      "        self.w.append(self.b)\n        return self.w", "neuron_test"),
    "neuron_params_tuple": bug("neuron_solution", "return self.w + [self.b]", "return (*self.w, self.b)",
                               "neuron_test"),
    # Layer (layer_test)
    "layer_init_drops_kwargs": bug("layer_solution", "Neuron(nin, **kwargs)", "Neuron(nin)", "layer_test"),
    "layer_outputs_reversed": bug("layer_solution", "out = [n(x) for n in self.neurons]",
                                  "out = [n(x) for n in reversed(self.neurons)]", "layer_test"),
    "layer_outputs_detached": bug("layer_solution", "out = [n(x) for n in self.neurons]",
                                  "out = [Value(n(x).data) for n in self.neurons]", "layer_test"),
    "layer_one_output_as_list": bug("layer_solution", "return out[0] if len(out) == 1 else out", "return out",
                                    "layer_test"),
    "layer_returns_tuple": bug("layer_solution", "return out[0] if len(out) == 1 else out",
                               "return out[0] if len(out) == 1 else tuple(out)", "layer_test"),
    "layer_params_duplicated": bug("layer_solution", "return [p for n in self.neurons for p in n.parameters()]",
                                   "return [p for n in self.neurons for p in n.parameters()] * 2", "layer_test"),
    "layer_params_generator": bug("layer_solution", "return [p for n in self.neurons for p in n.parameters()]",
                                  "return (p for n in self.neurons for p in n.parameters())", "layer_test"),
    "layer_params_nested": bug("layer_solution", "return [p for n in self.neurons for p in n.parameters()]",
                               "return [n.parameters() for n in self.neurons]", "layer_test"),
    "layer_params_biases_last": bug("layer_solution", "return [p for n in self.neurons for p in n.parameters()]",
                                    "return [w for n in self.neurons for w in n.w] + [n.b for n in self.neurons]",
                                    "layer_test"),
    "layer_params_cache_grows": bug("layer_solution", _LAYER_PARAMS,
                                    "        self.params = getattr(self, 'params', [])\n"
                                    "        self.params += [p for n in self.neurons for p in n.parameters()]\n"
                                    "        return self.params", "layer_test"),
    # MLP (mlp_test)
    "mlp_sizes_not_chained": bug("mlp_solution", "Layer(sizes[i], sizes[i + 1],", "Layer(nin, sizes[i + 1],",
                                 "mlp_test"),
    "mlp_missing_last_layer": bug("mlp_solution", "for i in range(len(nouts))]", "for i in range(len(nouts) - 1)]",
                                  "mlp_test"),
    "mlp_last_layer_nonlinear": bug("mlp_solution", "nonlin=i != len(nouts) - 1", "nonlin=True", "mlp_test"),
    "mlp_all_linear": bug("mlp_solution", "nonlin=i != len(nouts) - 1", "nonlin=False", "mlp_test"),
    "mlp_layers_elsewhere": bug("mlp_solution", _MLP_BODY, _MLP_BODY.replace("self.layers", "self.net"), "mlp_test"),
    "mlp_call_not_chained": bug("mlp_solution", "            x = layer(x)\n        return x",
                                "            out = layer(x)\n        return out", "mlp_test"),
    "mlp_returns_list": bug("mlp_solution", "            x = layer(x)\n        return x",
                            "            x = layer(x)\n        return x if isinstance(x, list) else [x]", "mlp_test"),
    "mlp_params_reversed": bug("mlp_solution", "return [p for layer in self.layers for p in layer.parameters()]",
                               "return [p for layer in reversed(self.layers) for p in layer.parameters()]",
                               "mlp_test"),
    "mlp_params_fresh_copies": bug("mlp_solution", "return [p for layer in self.layers for p in layer.parameters()]",
                                   "return [Value(p.data) for layer in self.layers for p in layer.parameters()]",
                                   "mlp_test"),
    "mlp_params_cache_grows": bug("mlp_solution", _MLP_PARAMS,
                                  "        self.params = getattr(self, 'params', [])\n"
                                  "        self.params += [p for layer in self.layers for p in layer.parameters()]\n"
                                  "        return self.params", "mlp_test"),
    "mlp_params_shuffled": bug("mlp_solution", _MLP_PARAMS,
                               "        params = [p for layer in self.layers for p in layer.parameters()]\n"
                               "        random.shuffle(params)\n        return params", "mlp_test"),
    # svm_loss (loss_test)
    "loss_no_regularisation": bug("loss_solution", "return data_loss + reg_loss", "return data_loss", "loss_test"),
    "loss_sum_not_mean": bug("loss_solution", "sum(margins) * (1.0 / len(margins))", "sum(margins)", "loss_test"),
    "loss_margin_sign": bug("loss_solution", "(1 + -yi * si).relu()", "(1 + yi * si).relu()", "loss_test"),
    "loss_returns_float": bug("loss_solution", "return data_loss + reg_loss", "return (data_loss + reg_loss).data",
                              "loss_test"),
    "loss_reg_on_data": bug("loss_solution", "alpha * sum(p * p for p in params)",
                            "alpha * sum(p.data * p.data for p in params)", "loss_test"),
    "loss_margin_on_data": bug("loss_solution", "margins = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]",
                               "margins = [max(0.0, 1 - yi * si.data) for yi, si in zip(y, scores)]", "loss_test"),
    "loss_ignores_alpha": bug("loss_solution", "reg_loss = alpha * sum(", "reg_loss = 1e-4 * sum(", "loss_test"),
    "loss_default_alpha": bug("loss_solution", "def svm_loss(scores, y, params, alpha=1e-4):",
                              "def svm_loss(scores, y, params, alpha=1e-3):", "loss_test"),
    "loss_reduce_without_start": bug("loss_solution", "    reg_loss = alpha * sum(p * p for p in params)",
                                     "    from functools import reduce\n"
                                     "    reg_loss = alpha * reduce(lambda a, b: a + b, [p * p for p in params])",
                                     "loss_test"),
    # sgd_step (sgd_test)
    "sgd_wrong_sign": bug("sgd_solution", "    p.data -= lr * p.grad", "    p.data += lr * p.grad", "sgd_test"),
    "sgd_ignores_lr": bug("sgd_solution", "    p.data -= lr * p.grad", "    p.data -= 0.1 * p.grad", "sgd_test"),
    "sgd_zeroes_grads": bug("sgd_solution", "        p.data -= lr * p.grad",
                            "        p.data -= lr * p.grad\n        p.grad = 0.0", "sgd_test"),
    "sgd_new_values": bug("sgd_solution", "        p.data -= lr * p.grad", "        p = Value(p.data - lr * p.grad)",
                          "sgd_test"),
    "sgd_walks_layers": bug("sgd_solution", "    for p in model.parameters():",
                            "    for p in (q for layer in model.layers for q in layer.parameters()):", "sgd_test"),
    "sgd_global_model": bug("sgd_solution", "def sgd_step(model, lr):", "def sgd_step(net, lr):", "sgd_test"),
    # train (train_test)
    "train_no_zero_grad": bug("train_solution", "        model.zero_grad()\n", "", "train_test"),
    "train_zero_grad_after_backward": bug("train_solution", "        model.zero_grad()\n        loss.backward()\n",
                                          "        loss.backward()\n        model.zero_grad()\n", "train_test"),
    "train_constant_lr": bug("train_solution", "sgd_step(model, 1.0 - 0.9 * k / steps)", "sgd_step(model, 1.0)",
                             "train_test"),
    "train_lr_off_by_one": bug("train_solution", "1.0 - 0.9 * k / steps", "1.0 - 0.9 * (k + 1) / steps",
                               "train_test"),
    "train_lr_micrograd_100": bug("train_solution", "1.0 - 0.9 * k / steps", "1.0 - 0.9 * k / 100", "train_test"),
    "train_ignores_alpha": bug("train_solution", "svm_loss(scores, y, model.parameters(), alpha)",
                               "svm_loss(scores, y, model.parameters())", "train_test"),
    "train_default_alpha": bug("train_solution", "def train(model, X, y, steps, alpha=1e-4):",
                               "def train(model, X, y, steps, alpha=1e-3):", "train_test"),
    "train_loss_without_params": bug("train_solution", "svm_loss(scores, y, model.parameters(), alpha)",
                                     "svm_loss(scores, y, [], alpha)", "train_test"),
    "train_ignores_steps": bug("train_solution", "    for k in range(steps):", "    for k in range(25):",
                               "train_test"),
    "train_globals_X_y": bug("train_solution", "def train(model, X, y, steps, alpha=1e-4):",
                             "def train(model, X_train, y_train, steps, alpha=1e-4):", "train_test"),
    "train_global_model": bug("train_solution", "def train(model, X, y, steps, alpha=1e-4):",
                              "def train(net, X, y, steps, alpha=1e-4):", "train_test"),
    "train_forward_once": bug("train_solution", "    for k in range(steps):\n        scores = [model(x) for x in X]\n",
                              "    scores = [model(x) for x in X]\n    for k in range(steps):\n", "train_test"),
    "train_returns_values": bug("train_solution", "losses.append(loss.data)", "losses.append(loss)", "train_test"),
    "train_returns_last_loss": bug("train_solution", "    return losses", "    return losses[-1]", "train_test"),
    "train_losses_after_update": bug("train_solution", "losses.append(loss.data)",
                                     "losses.append(svm_loss([model(x) for x in X], y, model.parameters(), "
                                     "alpha).data)",
                                     "train_test"),
    # decision_grid (grid_test)
    "grid_axes_swapped": bug("grid_solution", "model([xv, yv])", "model([yv, xv])", "grid_test"),
    "grid_rows_per_x": bug("grid_solution", "for xv in xs] for yv in ys]", "for yv in ys] for xv in xs]", "grid_test"),
    "grid_bools": bug("grid_solution", "1 if model([xv, yv]).data > 0 else 0", "model([xv, yv]).data > 0",
                      "grid_test"),
    "grid_inverted": bug("grid_solution", "model([xv, yv]).data > 0", "model([xv, yv]).data < 0", "grid_test"),
    "grid_flat": bug("grid_solution", "[[1 if model([xv, yv]).data > 0 else 0 for xv in xs] for yv in ys]",
                     "[1 if model([xv, yv]).data > 0 else 0 for yv in ys for xv in xs]", "grid_test"),
    "grid_global_model": bug("grid_solution", "def decision_grid(model, xs, ys):", "def decision_grid(net, xs, ys):",
                             "grid_test"),
}

_OUT = (r"\text{out} = \begin{cases}\text{relu}(\text{act}) & \text{if nonlin}\\ \text{act} & "
        r"\text{otherwise.}\end{cases}")
REQUIREMENTS = [
    # Module.zero_grad
    req("zero_grad_test", "set `grad` of every `Value` in `self.parameters()` to `0.0`",
        "assert (m.a.grad, m.b.grad) == (0.0, 0.0)", "ZERO_GRAD_CASES", "zero_grad_missing", "zero_grad_to_none"),
    req("zero_grad_test", "set `grad` of every `Value` in `self.parameters()` to `0.0`",
        "assert (twins.a.grad, twins.b.grad) == (0.0, 0.0)", "equal data (every bias starts at 0.0)",
        "zero_grad_dedup_by_data"),
    req("zero_grad_test", "(and leave `data` alone)", "zero_grad() must not change data",
        "zero_grad() only resets grad", "zero_grad_resets_data"),
    req("zero_grad_test", "`zero_grad` must work for all of them (a module without parameters included), so use "
        "`self.parameters()`", "Module().zero_grad()", "zero_grad_without_parameters(engine)",
        "zero_grad_own_attributes"),
    # Neuron
    req("neuron_test", "`__call__(x)`: the output above, one `Value`", "assert isinstance(out, Value)",
        'check_one_value(got[r_kind], f"{c.ctx}: the call"', "neuron_returns_float", "neuron_sum_syntax_error"),
    req("neuron_test", "Start the sum at the bias: `b + w[0]*x[0] + w[1]*x[1] + ...`", "assert out.data == 2.5",
        "is the bias missing?", "neuron_bias_missing"),
    req("neuron_test", _OUT, "with nonlin=True the output is relu(act)", "with nonlin=True the output is relu(act)",
        "neuron_always_relu", "neuron_never_relu"),
    req("neuron_test", "built from `Value` operations so that `backward()` reaches every weight, the bias and the "
        "inputs", "assert (x[0].grad, x[1].grad) == (2.0, -1.0)", "compute with the Values of x themselves",
        "neuron_bias_as_number", "neuron_detaches_inputs", "neuron_wraps_inputs"),
    req("neuron_test", "`parameters()`: the list `[w[0], ..., w[nin-1], b]` — the `Value` objects themselves (not "
        "copies: training updates them in place), weights first, bias last",
        "assert params[0] is n.w[0] and params[1] is n.w[1] and params[2] is n.b", "w[0], ..., w[nin-1], then b",
        "neuron_bias_first", "neuron_params_copies", "neuron_params_tuple"),
    req("neuron_test", "the same ones in the same order every time it is called (build a new list: do not change "
        "`self.w`)", "assert len(n.parameters()) == 3 and len(n.w) == 2", 'read_parameters(p, f"Neuron({c.nin})", n)',
        "neuron_params_appends_bias"),
    # Layer
    req("layer_test", "it passes `nonlin` and any other keyword on to every neuron",
        "Layer(3, 2, nonlin=False): every neuron gets nonlin=False",
        "passes nonlin and the other keywords on to every neuron", "layer_init_drops_kwargs"),
    req("layer_test", "a list of the neurons' outputs (their `Value`s) on `x`, in order",
        "the layer's outputs must be its neurons' outputs, in order", "the neurons' outputs, in order",
        "layer_outputs_reversed", "layer_returns_tuple", "layer_outputs_detached"),
    req("layer_test", "a layer with a single neuron returns that neuron's `Value` itself, not a one-element list",
        "assert isinstance(single, Value)", "expected the single neuron's Value", "layer_one_output_as_list"),
    req("layer_test", "a list of the parameters of the first neuron (in *its* `parameters()` order), then those of "
        "the second neuron, and so on", "parameters(): the first neuron's parameters, then the second's",
        "each neuron's parameters(), neuron by neuron", "layer_params_biases_last", "layer_params_nested",
        "layer_params_generator", "layer_params_duplicated"),
    req("layer_test", "the neurons' own `Value`s, the same ones on every call", "assert len(layer.parameters()) == 8",
        "read_parameters(p, label, layer)", "layer_params_cache_grows"),
    # MLP
    req("mlp_test", "store the layers, in order, in `self.layers` (the tests look there)",
        "assert len(model.layers) == 3", "store the layers in self.layers", "mlp_layers_elsewhere",
        "mlp_missing_last_layer"),
    req("mlp_test", "a layer of 16 neurons with 2 inputs, a layer of 16 neurons with 16 inputs and a layer of 1 neuron "
        "with 16 inputs", "the neurons of each layer read the previous layer's outputs",
        "(the size of the layer before)", "mlp_sizes_not_chained"),
    req("mlp_test", "Every layer applies ReLU **except the last one**, which is linear (`nonlin=False`)",
        "hidden layers apply ReLU, the last layer is linear", "expected a linear layer", "mlp_last_layer_nonlinear",
        "mlp_all_linear"),
    req("mlp_test", "feed `x` through the layers in turn and return the last layer's output (one `Value` when the "
        "last layer has one neuron)", "model(x) must feed x through the layers in turn",
        "(x fed through the layers in turn)", "mlp_call_not_chained", "mlp_returns_list"),
    req("mlp_test", "a list of the first layer's parameters (in its `parameters()` order), then the second's, and so "
        "on", "parameters(): the first layer's parameters, then the second's",
        "the first layer's parameters(), then the second's", "mlp_params_reversed"),
    req("mlp_test", "the network's own `Value`s, the same ones in the same order on every call",
        "again = model.parameters()", "the layers' own (training must update the network itself)",
        "mlp_params_fresh_copies", "mlp_params_shuffled", "mlp_params_cache_grows"),
    # svm_loss
    req("loss_test", "average with `sum(...) * (1.0 / n)`", "(the mean of 0.75, 0, 4)", "average the margins",
        "loss_sum_not_mean"),
    req("loss_test", "Write the margin as `(1 + -yi * si).relu()`", "scores [0.25, -2, 3], labels [1, -1, -1]",
        "LossCase([0.25], [-1], [])", "loss_margin_sign"),
    req("loss_test", "regularise with `alpha * sum(p * p for p in params)`",
        "a satisfied margin leaves only alpha * sum(p*p)", "the L2 term alpha * sum(p * p) is missing",
        "loss_no_regularisation", "loss_ignores_alpha"),
    req("loss_test", "`svm_loss(scores, y, params, alpha=1e-4)`", "without alpha, svm_loss uses alpha=1e-4",
        "the default alpha is 1e-4", "loss_default_alpha"),
    req("loss_test", "Return the loss as one `Value`, built from `Value` operations so that `backward()` reaches "
        "every score and every parameter", "d/dp of alpha * p**2 is 2 * alpha * p", "build the loss from Value",
        "loss_returns_float", "loss_reg_on_data", "loss_margin_on_data"),
    req("loss_test", "`params` a list of `Value`s (usually `model.parameters()`; it may be empty)",
        "loss = svm_loss(s, [1, -1, -1], [])", "LossCase([0.25], [1], [])", "loss_reduce_without_start"),
    # sgd_step
    req("sgd_test", r"by $-\text{lr} \cdot \text{grad}$", "expected 0.75 and 0.0", "subtract lr * grad",
        "sgd_wrong_sign", "sgd_ignores_lr"),
    req("sgd_test", "(anything with a `parameters()` method, not only an `MLP`)", "m = _Pair()",
        'use_known_good(PIECES, "Params")', "sgd_walks_layers", "sgd_global_model"),
    req("sgd_test", "in place: `p.data` changes, the `Value` objects stay the same", "assert m.a is a and m.b is b",
        "update p.data in place", "sgd_new_values"),
    req("sgd_test", "Leave the gradients alone.", "sgd_step must leave the gradients alone",
        "leaves the gradients alone", "sgd_zeroes_grads"),
    # train
    req("train_test", "(use the arguments, not global variables)", "check_train(3, 0.1,", "TRAIN_CASES",
        "train_globals_X_y", "train_global_model", "train_ignores_steps"),
    req("train_test", "`svm_loss(scores, y, model.parameters(), alpha)`", "pass alpha on", "svm_hinge_l2(scores, y, "
        "params, alpha=alpha)", "train_ignores_alpha", "train_loss_without_params"),
    req("train_test", "`train(model, X, y, steps, alpha=1e-4)`", "check_train(2, None,", "default=1e-4",
        "train_default_alpha"),
    req("train_test", "backward: `model.zero_grad()`, then `loss.backward()`", "model.zero_grad() before "
        "loss.backward()", "model.zero_grad(), loss.backward()", "train_no_zero_grad",
        "train_zero_grad_after_backward"),
    req("train_test", "the learning rate `lr = 1.0 - 0.9 * k / steps`", "the learning rate decays",
        "lr = 1.0 - 0.9 * k / steps", "train_constant_lr", "train_lr_off_by_one", "train_lr_micrograd_100"),
    req("train_test", "forward: the scores `model(x)` of every point `x` of `X`",
        "compute the scores again at every step", "the scores of every x in X", "train_forward_once"),
    req("train_test", "Return the list of the `steps` losses as plain floats (`loss.data`), one per step, computed "
        "before that step's update", "the losses are plain floats (loss.data)", "before the update",
        "train_returns_values", "train_returns_last_loss", "train_losses_after_update"),
    # decision_grid
    req("grid_test", "return a list of rows, one per `y` in `ys`, each a list with one entry per `x` in `xs`",
        "assert Z == [[0, 1, 1], [0, 0, 1]]", "rows (one per y) of", "grid_rows_per_x", "grid_flat"),
    req("grid_test", "`Z[i][j]` is the prediction at `[xs[j], ys[i]]`", "assert Z == [[0, 1, 1], [0, 0, 1]]",
        "(the model's score at [x, y]", "grid_axes_swapped"),
    req("grid_test", "the int `1` where `model([x, y]).data > 0` (the model predicts `+1`) and the int `0` otherwise "
        "(not `True`/`False`)", "the entries are the ints 0 and 1, not True/False", "expected the int 1 or 0",
        "grid_bools", "grid_inverted", "grid_global_model"),
]

# Correct solutions written differently: no visible test and no hidden check may call them wrong.
VARIANTS = {
    "loops": (  # explicit loops and appends where the solution has comprehensions
        Edit("module_solution", "            p.grad = 0.0", "            p.grad = 0"),
        Edit("neuron_solution", "        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)\n",
             "        act = self.b\n        for wi, xi in zip(self.w, x):\n            act = act + wi * xi\n"),
        Edit("neuron_solution", "        return self.w + [self.b]", "        return [*self.w, self.b]"),
        Edit("layer_solution", "        out = [n(x) for n in self.neurons]\n"
             "        return out[0] if len(out) == 1 else out",
             "        outs = []\n        for n in self.neurons:\n            outs.append(n(x))\n"
             "        if len(outs) == 1:\n            return outs[0]\n        return outs"),
        Edit("layer_solution", "        return [p for n in self.neurons for p in n.parameters()]",
             "        params = []\n        for n in self.neurons:\n            params.extend(n.parameters())\n"
             "        return params"),
        Edit("mlp_solution", "        sizes = [nin] + list(nouts)\n        self.layers = [Layer(sizes[i], "
             "sizes[i + 1], nonlin=i != len(nouts) - 1) for i in range(len(nouts))]",
             "        self.layers = []\n        for i, nout in enumerate(nouts):\n"
             "            size = nin if i == 0 else nouts[i - 1]\n"
             "            self.layers.append(Layer(size, nout, nonlin=i < len(nouts) - 1))"),
        Edit("mlp_solution", "        return [p for layer in self.layers for p in layer.parameters()]",
             "        return sum((layer.parameters() for layer in self.layers), [])"),
        Edit("sgd_solution", "        p.data -= lr * p.grad", "        p.data = p.data - lr * p.grad"),
        Edit("grid_solution", "    return [[1 if model([xv, yv]).data > 0 else 0 for xv in xs] for yv in ys]",
             "    Z = []\n    for yv in ys:\n        row = []\n        for xv in xs:\n"
             "            row.append(int(model([xv, yv]).data > 0))\n        Z.append(row)\n    return Z"),
    ),
    "other_idioms": (  # keywords, generators, a learning rate named on its own line
        Edit("neuron_solution", "        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)\n",
             "        act = sum([self.w[i] * x[i] for i in range(len(self.w))], start=self.b)\n"),
        Edit("loss_solution", "    margins = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]\n"
             "    data_loss = sum(margins) * (1.0 / len(margins))\n",
             "    n = len(scores)\n"
             "    data_loss = sum((1 + -yi * si).relu() for yi, si in zip(y, scores)) * (1.0 / n)\n"),
        Edit("train_solution", "        sgd_step(model, 1.0 - 0.9 * k / steps)\n        losses.append(loss.data)",
             "        lr = 1.0 - 0.9 * k / steps\n        sgd_step(model, lr)\n"
             "        losses.append(float(loss.data))"),
        Edit("grid_solution", "    return [[1 if model([xv, yv]).data > 0 else 0 for xv in xs] for yv in ys]",
             "    return [[int(model([x, y]).data > 0) for x in xs] for y in ys]"),
    ),
}
