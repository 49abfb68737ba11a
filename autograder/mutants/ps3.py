"""Classic bugs in assignment 3: the nn classes, the loss, the update, the loop and the grid.

One mutant (at least) per requirement the notebook's text states; each loses only
its own cell, because every hidden check runs its part with known-good versions of
the others (``autograder/checks/pieces/ps3.py``).
"""

from autograder.mutants import bug

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
