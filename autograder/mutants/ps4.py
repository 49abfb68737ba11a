"""Classic bugs in assignment 4: the new operators, the fused cross-entropy, the optimizers and the loop.

One mutant (at least) per requirement the notebook's text states, and the subtle mistakes of
this material (an overflowing softmax, Adam without bias correction, momentum that forgets its
state); each loses only its own cell, because every hidden check runs its part with known-good
versions of the others (``autograder/checks/pieces/ps4.py``).
"""

from autograder.mutants import bug

ASSIGNMENT = "ps4_extend"

_POW_GIVEN = ("    if not isinstance(other, Value):\n"
              "        return self.power(other)   # a constant exponent: problem set 1's ** (given)\n")
_POW_BASE = "        self.grad += other.data * self.data ** (other.data - 1) * out.grad\n"
_POW_EXP = "        other.grad += out.data * math.log(self.data) * out.grad\n"
_SOFTPLUS = "        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))\n"
_GELU_DU = "        du = math.sqrt(2.0 / math.pi) * (1.0 + 3.0 * 0.044715 * x * x)\n"
_CE_GRAD = "            z.grad += (exps[i] / total - (1.0 if i == target else 0.0)) * out.grad\n"
_SGD_V = "            self.velocity[i] = self.momentum * self.velocity[i] + p.grad\n"
_ADAM_M = "            self.m[i] = b1 * self.m[i] + (1 - b1) * g\n"
_ADAM_HAT = ("            m_hat = self.m[i] / (1 - b1 ** self.t)\n"
             "            v_hat = self.v[i] / (1 - b2 ** self.t)\n")
_DECAY = "            p.data -= self.lr * self.weight_decay * p.data\n"

MUTANTS = {
    # a ** b (pow_test)
    "pow_exponent_missing_log": bug("pow_solution", _POW_EXP,
                                    "        other.grad += out.data * out.grad\n", "pow_test"),
    "pow_base_grad_is_the_power": bug("pow_solution", _POW_BASE,
                                      "        self.grad += self.data ** other.data * out.grad\n", "pow_test"),
    "pow_exponent_as_constant": bug("pow_solution", _POW_BASE + _POW_EXP, _POW_BASE, "pow_test"),
    "pow_base_overwrites": bug("pow_solution", "        self.grad += other.data", "        self.grad = other.data",
                               "pow_test"),
    "pow_exponent_overwrites": bug("pow_solution", "        other.grad += out.data",
                                   "        other.grad = out.data", "pow_test"),
    "pow_exponent_no_chain_rule": bug("pow_solution", _POW_EXP,
                                      "        other.grad += out.data * math.log(self.data)\n", "pow_test"),
    "pow_no_domain_check": bug("pow_solution", "    if self.data <= 0:\n", "    if False:\n", "pow_test"),
    "pow_zero_base_allowed": bug("pow_solution", "    if self.data <= 0:\n", "    if self.data < 0:\n", "pow_test"),
    "pow_error_hides_the_base": bug("pow_solution", 'ValueError(f"a ** b needs a base > 0, got a = {self.data!r}")',
                                    'ValueError("math domain error")', "pow_test"),
    "pow_number_exponent_wrapped": bug("pow_solution", _POW_GIVEN,
                                       "    other = other if isinstance(other, Value) else Value(other)\n",
                                       "pow_test"),
    "pow_number_exponent_no_domain_check": bug("pow_solution", _POW_GIVEN + "    if self.data <= 0:\n",
                                               "    number = not isinstance(other, Value)\n"
                                               "    other = other if isinstance(other, Value) else Value(other)\n"
                                               "    if self.data <= 0 and not number:\n", "pow_test"),
    "pow_wrong_error_type": bug("pow_solution", "        raise ValueError(", "        raise ArithmeticError(",
                                "pow_test"),
    # softplus (softplus_test)
    "softplus_wrong_point": bug("softplus_solution", _SOFTPLUS, "        x = out.data\n" + _SOFTPLUS, "softplus_test"),
    "softplus_naive_sigmoid_overflows": bug("softplus_solution", _SOFTPLUS,
                                            "        s = 1.0 / (1.0 + math.exp(-x))\n", "softplus_test"),
    "softplus_overwrites": bug("softplus_solution", "self.grad += s * out.grad", "self.grad = s * out.grad",
                               "softplus_test"),
    "softplus_derivative_is_softplus": bug("softplus_solution", "self.grad += s * out.grad",
                                           "self.grad += out.data * out.grad", "softplus_test"),
    # gelu (gelu_test)
    "gelu_wrong_point": bug("gelu_solution", _GELU_DU, "        x = out.data\n" + _GELU_DU, "gelu_test"),
    "gelu_cube_derivative": bug("gelu_solution", "(1.0 + 3.0 * 0.044715 * x * x)", "(1.0 + 0.044715 * x * x)",
                                "gelu_test"),
    "gelu_product_rule_half": bug("gelu_solution", "(0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du)",
                                  "(0.5 * x * (1.0 - t * t) * du)", "gelu_test"),
    "gelu_no_chain_rule": bug("gelu_solution", "* du) * out.grad", "* du)", "gelu_test"),
    # cross_entropy (cross_entropy_test)
    "ce_max_not_subtracted": bug("cross_entropy_solution",
                                 "    exps = [math.exp(z - m) for z in zs]\n    total = sum(exps)\n"
                                 "    out = Value(math.log(total) - (zs[target] - m), logits, 'cross_entropy')",
                                 "    exps = [math.exp(z) for z in zs]\n    total = sum(exps)\n"
                                 "    out = Value(math.log(total) - zs[target], logits, 'cross_entropy')",
                                 "cross_entropy_test"),
    "ce_gradient_missing_onehot": bug("cross_entropy_solution", _CE_GRAD,
                                      "            z.grad += exps[i] / total * out.grad\n", "cross_entropy_test"),
    "ce_gradient_sign": bug("cross_entropy_solution", "(exps[i] / total - (1.0 if i == target else 0.0))",
                            "((1.0 if i == target else 0.0) - exps[i] / total)", "cross_entropy_test"),
    "ce_overwrites": bug("cross_entropy_solution", "            z.grad += (", "            z.grad = (",
                         "cross_entropy_test"),
    "ce_no_chain_rule": bug("cross_entropy_solution", "0.0)) * out.grad\n", "0.0))\n", "cross_entropy_test"),
    "ce_onehot_by_value_breaks_ties": bug("cross_entropy_solution", "(1.0 if i == target else 0.0)",
                                          "(1.0 if z.data == zs[target] else 0.0)", "cross_entropy_test"),
    "ce_loss_forgets_max": bug("cross_entropy_solution", "math.log(total) - (zs[target] - m)",
                               "math.log(total) - zs[target]", "cross_entropy_test"),
    "ce_not_one_node": bug("cross_entropy_solution", "    out._backward = _backward\n    return out\n",
                           "    shifted = [z - m for z in logits]\n"
                           "    return sum(s.exp() for s in shifted).log() - shifted[target]\n",
                           "cross_entropy_test"),
    "ce_returns_float": bug("cross_entropy_solution", "    return out\n", "    return out.data\n",
                            "cross_entropy_test"),
    # Optimizer.zero_grad (zero_grad_test)
    "zero_grad_global_model": bug("optimizer_solution", "        for p in self.params:\n            p.grad = 0.0",
                                  "        for p in model.parameters():\n            p.grad = 0.0", "zero_grad_test"),
    "zero_grad_resets_data": bug("optimizer_solution", "            p.grad = 0.0", "            p.data = p.grad = 0.0",
                                 "zero_grad_test"),
    "zero_grad_rebinds_the_loop_variable": bug("optimizer_solution", "            p.grad = 0.0",
                                               "            p = Value(p.data)", "zero_grad_test"),
    "zero_grad_dedup_by_data": bug("optimizer_solution", "        for p in self.params:\n            p.grad = 0.0",
                                   "        seen = set()\n        for p in self.params:\n"
                                   "            if p.data in seen:\n                continue\n"
                                   "            seen.add(p.data)\n            p.grad = 0.0", "zero_grad_test"),
    "zero_grad_keyed_by_data": bug("optimizer_solution", "        for p in self.params:\n",
                                   "        for p in {p.data: p for p in self.params}.values():\n", "zero_grad_test"),
    "zero_grad_to_none": bug("optimizer_solution", "            p.grad = 0.0", "            p.grad = None",
                             "zero_grad_test"),
    # SGD (sgd_test)
    "sgd_velocity_not_kept": bug("sgd_solution", _SGD_V,
                                 "            self.velocity = [0.0 for _ in self.params]\n" + _SGD_V, "sgd_test"),
    "sgd_velocity_shared": bug("sgd_solution", _SGD_V,
                               "            self.velocity[0] = self.momentum * self.velocity[0] + p.grad\n"
                               "            self.velocity[i] = self.velocity[0]\n", "sgd_test"),
    "sgd_nesterov_ignored": bug("sgd_solution", "            if self.nesterov:", "            if False:", "sgd_test"),
    "sgd_momentum_dampened": bug("sgd_solution", "self.momentum * self.velocity[i] + p.grad",
                                 "self.momentum * self.velocity[i] + (1 - self.momentum) * p.grad", "sgd_test"),
    "sgd_zeroes_grads": bug("sgd_solution", "                p.data -= self.lr * self.velocity[i]\n",
                            "                p.data -= self.lr * self.velocity[i]\n            p.grad = 0.0\n",
                            "sgd_test"),
    "sgd_wrong_sign": bug("sgd_solution", "                p.data -= self.lr * self.velocity[i]",
                          "                p.data += self.lr * self.velocity[i]", "sgd_test"),
    # Adam (adam_test)
    "adam_no_bias_correction": bug("adam_solution", _ADAM_HAT,
                                   "            m_hat = self.m[i]\n            v_hat = self.v[i]\n", "adam_test"),
    "adam_eps_inside_sqrt": bug("adam_solution", "(math.sqrt(v_hat) + self.eps)", "math.sqrt(v_hat + self.eps)",
                                "adam_test"),
    "adam_moments_swapped": bug("adam_solution", "        b1, b2 = self.betas", "        b2, b1 = self.betas",
                                "adam_test"),
    "adam_second_moment_not_squared": bug("adam_solution", "(1 - b2) * g * g", "(1 - b2) * abs(g)", "adam_test"),
    "adam_t_not_kept": bug("adam_solution", "        self.t += 1\n", "        self.t = 1\n", "adam_test"),
    "adam_bias_correction_before_count": bug("adam_solution", "        self.t += 1\n", "", "adam_test"),
    "adam_state_reset_every_step": bug("adam_solution", "        self.t += 1\n",
                                       "        self.t += 1\n        self.m = [0.0 for _ in self.params]\n",
                                       "adam_test"),
    "adam_first_moment_overwritten": bug("adam_solution", _ADAM_M, "            self.m[i] = (1 - b1) * g\n",
                                         "adam_test"),
    # AdamW (adamw_test)
    "adamw_decay_in_the_gradient": bug("adamw_solution", _DECAY,
                                       "            p.grad += self.weight_decay * p.data\n", "adamw_test"),
    "adamw_decay_without_lr": bug("adamw_solution", _DECAY, "            p.data -= self.weight_decay * p.data\n",
                                  "adamw_test"),
    "adamw_decay_after_the_update": bug("adamw_solution", "        for p in self.params:\n" + _DECAY +
                                        "        Adam.step(self)\n",
                                        "        Adam.step(self)\n        for p in self.params:\n" + _DECAY,
                                        "adamw_test"),
    "adamw_no_decay": bug("adamw_solution", _DECAY, "            pass\n", "adamw_test"),
    "adamw_no_adam_step": bug("adamw_solution", "        Adam.step(self)\n", "", "adamw_test"),
    # train (train_test)
    "train_new_optimizer_every_step": bug("train_solution",
                                          "    opt = Adam(model.parameters(), lr=lr)\n    losses = []\n"
                                          "    for k in range(steps):\n",
                                          "    losses = []\n    for k in range(steps):\n"
                                          "        opt = Adam(model.parameters(), lr=lr)\n", "train_test"),
    "train_no_zero_grad": bug("train_solution", "        opt.zero_grad()\n", "", "train_test"),
    "train_zero_grad_after_backward": bug("train_solution", "        opt.zero_grad()\n        loss.backward()\n",
                                          "        loss.backward()\n        opt.zero_grad()\n", "train_test"),
    "train_sum_not_mean": bug("train_solution", " * (1.0 / len(X))", "", "train_test"),
    "train_ignores_lr": bug("train_solution", "Adam(model.parameters(), lr=lr)", "Adam(model.parameters(), lr=0.1)",
                            "train_test"),
    "train_default_lr": bug("train_solution", "def train(model, X, y, steps, lr=0.1):",
                            "def train(model, X, y, steps, lr=0.05):", "train_test"),
    "train_adam_default_lr": bug("train_solution", "Adam(model.parameters(), lr=lr)", "Adam(model.parameters())",
                                 "train_test"),
    "train_returns_values": bug("train_solution", "losses.append(loss.data)", "losses.append(loss)", "train_test"),
    "train_globals_X_y": bug("train_solution", "def train(model, X, y, steps, lr=0.1):",
                             "def train(model, X_train, y_train, steps, lr=0.1):", "train_test"),
    "train_sgd_instead_of_adam": bug("train_solution", "opt = Adam(model.parameters(), lr=lr)",
                                     "opt = SGD(model.parameters(), lr=lr)", "train_test"),
    "train_ignores_steps": bug("train_solution", "    for k in range(steps):", "    for k in range(80):",
                               "train_test"),
}
