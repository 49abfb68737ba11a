"""Classic bugs in assignment 3: the nn classes, the loss, the update, the loop and the grid."""

ASSIGNMENT = "ps3_mlp"

MUTANTS = {
    "zero_grad_missing": ("module_solution", "            p.grad = 0.0", "            pass", "zero_grad_test"),
    "neuron_bias_missing": ("neuron_solution", "for wi, xi in zip(self.w, x)), self.b)",
                            "for wi, xi in zip(self.w, x)), 0.0)", "neuron_test"),
    "neuron_always_relu": ("neuron_solution", "return act.relu() if self.nonlin else act", "return act.relu()",
                           "neuron_test"),
    "neuron_bias_first": ("neuron_solution", "return self.w + [self.b]", "return [self.b] + self.w", "neuron_test"),
    "layer_params_duplicated": ("layer_solution", "return [p for n in self.neurons for p in n.parameters()]",
                                "return [p for n in self.neurons for p in n.parameters()] * 2", "layer_test"),
    "layer_one_output_as_list": ("layer_solution", "return out[0] if len(out) == 1 else out", "return out",
                                 "layer_test"),
    "mlp_last_layer_nonlinear": ("mlp_solution", "nonlin=i != len(nouts) - 1", "nonlin=True", "mlp_test"),
    "mlp_params_reversed": ("mlp_solution", "return [p for layer in self.layers for p in layer.parameters()]",
                            "return [p for layer in reversed(self.layers) for p in layer.parameters()]",
                            "mlp_test"),
    "loss_no_regularisation": ("loss_solution", "return data_loss + reg_loss", "return data_loss", "loss_test"),
    "loss_sum_not_mean": ("loss_solution", "sum(margins) * (1.0 / len(margins))", "sum(margins)", "loss_test"),
    "sgd_wrong_sign": ("sgd_solution", "p.data -= lr * p.grad", "p.data += lr * p.grad", "sgd_test"),
    "train_no_zero_grad": ("train_solution", "        model.zero_grad()\n", "", "train_test"),
    "train_constant_lr": ("train_solution", "sgd_step(model, 1.0 - 0.9 * k / steps)", "sgd_step(model, 1.0)",
                          "train_test"),
    "grid_axes_swapped": ("grid_solution", "model([xv, yv])", "model([yv, xv])", "grid_test"),
}
