"""Classic bugs in assignment 4: the new operators, the fused cross-entropy, the optimizers and the loop.

One mutant (at least) per requirement the notebook's text states, and the subtle mistakes of
this material (an overflowing softmax, Adam without bias correction, momentum that forgets its
state); each loses only its own cell, because every hidden check runs its part with known-good
versions of the others (``autograder/checks/pieces/ps4.py``).
"""

from autograder.mutants import Edit, bug, req

ASSIGNMENT = "ps4_extend"

_POW_GIVEN = ("    if not isinstance(other, Value):\n"
              "        return self.power(other)   # a constant exponent: problem set 1's ** (given)\n")
_POW_CHECK = '    if self.data <= 0:\n        raise ValueError(f"a ** b needs a base > 0, got a = {self.data!r}")\n'
_POW_NODE = "    out = Value(self.data ** other.data, (self, other), '**')\n\n    def _backward():\n"
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
    "pow_domain_only_fractional": bug("pow_solution", "    if self.data <= 0:\n",
                                      "    if self.data <= 0 and not float(other.data).is_integer():\n", "pow_test"),
    "pow_domain_in_backward": bug("pow_solution", _POW_CHECK + _POW_NODE + _POW_BASE,
                                  _POW_NODE + _POW_CHECK.replace("    ", "        ") + _POW_BASE, "pow_test"),
    "pow_wrong_error_type": bug("pow_solution", "        raise ValueError(", "        raise ArithmeticError(",
                                "pow_test"),
    # softplus (softplus_test)
    "softplus_wrong_point": bug("softplus_solution", _SOFTPLUS, "        x = out.data\n" + _SOFTPLUS, "softplus_test"),
    "softplus_naive_sigmoid_overflows": bug("softplus_solution", _SOFTPLUS,
                                            "        s = 1.0 / (1.0 + math.exp(-x))\n", "softplus_test"),
    "softplus_exp_over_one_plus_exp": bug("softplus_solution", _SOFTPLUS,
                                          "        s = math.exp(x) / (1.0 + math.exp(x))\n", "softplus_test"),
    "softplus_clamped": bug("softplus_solution", _SOFTPLUS, "        s = 1.0 if x > 8.0 else (0.0 if x < -8.0 else "
                            "1.0 / (1.0 + math.exp(-x)))\n", "softplus_test"),
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
    "gelu_exact_erf": bug("gelu_solution", "        self.grad += (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du) * "
                          "out.grad\n",
                          "        cdf = 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))\n"
                          "        pdf = math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)\n"
                          "        self.grad += (cdf + x * pdf) * out.grad\n",
                          "gelu_test"),
    "gelu_cosh_overflows": bug("gelu_solution", "(1.0 - t * t)",
                               "math.cosh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)) ** -2",
                               "gelu_test"),
    "gelu_clamped": bug("gelu_solution", _GELU_DU, "        if abs(x) > 3.0:\n"
                        "            self.grad += (1.0 if x > 0 else 0.0) * out.grad\n            return\n" + _GELU_DU,
                        "gelu_test"),
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
    "ce_duplicate_counted_once": bug("cross_entropy_solution", _CE_GRAD,
                                     "            if z in logits[:i]:\n                continue\n" + _CE_GRAD,
                                     "cross_entropy_test"),
    "ce_max_of_first": bug("cross_entropy_solution", "    m = max(zs)\n", "    m = zs[0]\n", "cross_entropy_test"),
    "ce_log_of_p": bug("cross_entropy_solution", "math.log(total) - (zs[target] - m)",
                       "-math.log(exps[target] / total)", "cross_entropy_test"),
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
    "zero_grad_every_value": bug("optimizer_solution", "        for p in self.params:\n",
                                 "        import gc\n"
                                 "        for p in [v for v in gc.get_objects() if isinstance(v, Value)]:\n",
                                 "zero_grad_test"),
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

_EDGES, _TIGHT = "EDGES = (1000.0, -1000.0", "TIGHT = (4.0, 12.0, -12.0, 300.0)"  # kit/generic.py's one_input_check
_STATE = ("An optimizer's state (velocities, moments, the step count) lives in the optimizer, one entry per parameter "
          "in the order of `self.params`, and carries over from one `step()` to the next.")
_BACKWARD = "Both forward passes are given; write their `_backward`."
_FINITE = ("Each must stay finite for any input, $\\pm1000$ included: `math.exp(1000)` raises `OverflowError`, "
           "so never give `exp` a large positive argument")
_GELU = (r"\text{gelu}'(x) = \tfrac12\bigl(1 + \tanh u\bigr) + \tfrac12\, x\,\bigl(1 - \tanh^2 u\bigr)\,"
         r"\sqrt{2/\pi}\,\bigl(1 + 3 \cdot 0.044715\,x^2\bigr)")
_DATA_ONLY = ("it changes `p.data` only, in place (the `Value` objects stay the same, and their `grad` is left "
              "alone)")
REQUIREMENTS = [
    # a ** b
    req("pow_test", "a number as the exponent goes to the given `power` (problem set 1's `**`, unchanged)",
        "check_gradients(lambda a: a ** 2, [-2.0])", "NUMBER_EXPONENTS", "pow_number_exponent_wrapped",
        "pow_number_exponent_no_domain_check"),
    req("pow_test", "**the domain**: when `self.data <= 0`, raise a `ValueError`",
        "raises(ValueError, lambda: Value(base) ** Value(exponent)", "DOMAIN_CASES", "pow_no_domain_check",
        "pow_zero_base_allowed", "pow_wrong_error_type", "pow_domain_only_fractional"),
    req("pow_test", "whose message shows the base", "the ValueError should show the base",
        "its message should show the base", "pow_error_hides_the_base"),
    req("pow_test", "right away (before making the node: a node that cannot be differentiated must not exist)",
        "raises(ValueError, lambda: Value(base) ** Value(exponent)", "before making the node",
        "pow_domain_in_backward"),
    req("pow_test", "**the `_backward`**: add both local derivatives times `out.grad` to `self.grad` and "
        "`other.grad`", "check_gradients(lambda a, b: a ** b, [2.0, 3.0])", "POW_SHAPES",
        "pow_exponent_missing_log", "pow_base_grad_is_the_power", "pow_exponent_as_constant",
        "pow_exponent_no_chain_rule"),
    req("pow_test", "(`+=`: in `a ** a` the same `Value` is base and exponent, and receives both)",
        "check_gradients(lambda a: a ** a, [1.5])", '"a ** a"', "pow_exponent_overwrites"),
    req("pow_test", "(`+=`: in `a ** a` the same `Value` is base and exponent, and receives both)",
        "initial=0.25", "g0=INITIAL", "pow_base_overwrites"),
    # softplus and gelu
    req("softplus_test", r"\text{at the input } x \text{ (not at the output).}",
        "check_gradients(lambda a: a.softplus(), [0.5]", "one_input_graph", "softplus_wrong_point",
        "softplus_derivative_is_softplus"),
    req("softplus_test", _FINITE, "for x in (1000.0, -1000.0):", _EDGES, "softplus_naive_sigmoid_overflows",
        "softplus_exp_over_one_plus_exp"),
    req("softplus_test", "Its derivative is the sigmoid", "for x in (4.0, 12.0, -12.0, 300.0):", _TIGHT,
        "softplus_clamped"),
    req("softplus_test", _BACKWARD, "initial=0.75", "INITIAL", "softplus_overwrites"),
    req("gelu_test", _GELU, "check_gradients(lambda a: a.gelu(), [0.5], rtol=1e-7, atol=1e-9)", "one_input_graph",
        "gelu_cube_derivative", "gelu_product_rule_half", "gelu_exact_erf"),
    req("gelu_test", "at the input `x` (the closure sees `x` and `t` $= \\tanh u$ of the forward pass)",
        "check_gradients(lambda a: a.gelu(), [0.5], rtol=1e-7, atol=1e-9)", "one_input_graph", "gelu_wrong_point"),
    req("gelu_test", _FINITE, "check_gradients(lambda a: a.gelu(), [1000.0])", _EDGES,
        "gelu_cosh_overflows"),
    req("gelu_test", "in its tanh approximation", "for x in (2.5, 4.0, 12.0, -12.0):", _TIGHT,
        "gelu_clamped"),
    req("gelu_test", _BACKWARD, "upstream=2.0, initial=0.75", "UPSTREAM", "gelu_no_chain_rule"),
    # cross_entropy
    req("cross_entropy_test", "Return $L$ as **one** `Value` made with `Value(L, logits, 'cross_entropy')`: its "
        "inputs are the logits themselves", "one node whose inputs are the logits", "make the loss one node",
        "ce_not_one_node"),
    req("cross_entropy_test", "Return $L$ as **one** `Value`", "cross_entropy returns one Value",
        "expected one Value", "ce_returns_float"),
    req("cross_entropy_test", "adds $(p_i - [i = \\text{target}]) \\cdot$ `out.grad` to `logits[i].grad`, for "
        "every `i`, with `+=`", "check_gradients(lambda a, b, c: cross_entropy([a, b, c], 2), [2.0, -1.0, 0.5])",
        "softmax minus one-hot", "ce_gradient_missing_onehot", "ce_gradient_sign", "ce_no_chain_rule",
        "ce_overwrites"),
    req("cross_entropy_test", "(the same `Value` may appear twice in the list: it receives both contributions)",
        "check_gradients(lambda a, b: cross_entropy([a, b, a], 1), [1.0, -0.5])", "it receives every contribution",
        "ce_duplicate_counted_once"),
    req("cross_entropy_test", "Compute the loss and $p$ with plain floats (`math.exp`, `math.log`) and the "
        "maximum subtracted: the result must be finite for logits of $\\pm1000$",
        "cross_entropy is finite for logits of +-1000", "subtract the largest logit", "ce_max_not_subtracted",
        "ce_loss_forgets_max"),
    req("cross_entropy_test", "subtract the largest one, $m = \\max_j z_j$", "[-1000.0, 1000.0, 999.0]",
        "the largest logit is not the first", "ce_max_of_first"),
    req("cross_entropy_test", "$$L = \\log \\sum_j e^{z_j - m} \\;-\\; (z_\\text{target} - m)",
        "far = cross_entropy([Value(1000.0), Value(-1000.0), Value(0.0)], 1)", "the target far below the largest",
        "ce_log_of_p"),
    req("cross_entropy_test", "and right when several logits tie for the maximum", "three tied logits of 1000",
        "CECase((1000.0, 1000.0, 1000.0)", "ce_onehot_by_value_breaks_ties"),
    # Optimizer.zero_grad
    req("zero_grad_test", "set `grad` of every `Value` in `self.params` to `0.0`",
        "assert (a.grad, b.grad) == (0.0, 0.0)", "ZERO_GRAD_CASES", "zero_grad_to_none",
        "zero_grad_rebinds_the_loop_variable", "zero_grad_global_model"),
    req("zero_grad_test", "set `grad` of every `Value` in `self.params` to `0.0`",
        "assert [v.grad for v in biases] == [0.0, 0.0, 0.0]", "parameters whose data are equal",
        "zero_grad_dedup_by_data", "zero_grad_keyed_by_data"),
    req("zero_grad_test", "leave their `data` alone", "zero_grad() must not change data", "a data is",
        "zero_grad_resets_data"),
    req("zero_grad_test", "(and any `Value` that is not one of this optimizer's parameters)",
        "assert c.grad == 2.0", "reset self.params, and only those", "zero_grad_every_value"),
    # SGD
    req("sgd_test", r"v \leftarrow \mu\, v + g, \qquad p \leftarrow p - \text{lr}\cdot v",
        'check_steps("SGD(lr=0.1, momentum=0.9)"', "not an average with (1 - momentum)", "sgd_momentum_dampened",
        "sgd_wrong_sign"),
    req("sgd_test", r"\text{or, with Nesterov's momentum,}\qquad p \leftarrow p - \text{lr}\cdot (g + \mu\, v)",
        "nesterov=True", "nesterov=True steps by", "sgd_nesterov_ignored"),
    req("sgd_test", _STATE, "CAUSES", "the velocity is not kept", "sgd_velocity_not_kept", "sgd_velocity_shared"),
    req("sgd_test", _DATA_ONLY, "step() must leave the gradients alone", "(step() changes p.data only)",
        "sgd_zeroes_grads"),
    # Adam
    req("adam_test", r"m \leftarrow \beta_1 m + (1 - \beta_1)\, g, \qquad "
        r"v \leftarrow \beta_2 v + (1 - \beta_2)\, g^2",
        'check_steps("Adam(lr=0.1)"', "b1 for the gradient's average m", "adam_moments_swapped",
        "adam_second_moment_not_squared", "adam_first_moment_overwritten"),
    req("adam_test", "The *bias correction* ($\\hat m$, $\\hat v$) matters",
        "the bias correction m / (1 - b1**t), v / (1 - b2**t) is missing", "the bias correction m / (1 - b1**t)",
        "adam_no_bias_correction", "adam_bias_correction_before_count"),
    req("adam_test", "Note where $\\epsilon$ goes: outside the square root.", "eps goes outside the square root",
        "eps goes outside the square root", "adam_eps_inside_sqrt"),
    req("adam_test", "At every `step()`: $t \\leftarrow t + 1$", "the step count t must grow by 1 at every step",
        "the step count t must grow by 1", "adam_t_not_kept"),
    req("adam_test", _STATE, 'check_steps("Adam(lr=0.1, betas=(0.5, 0.9), eps=0.1)"', "OPT_CASES",
        "adam_state_reset_every_step"),
    # AdamW
    req("adamw_test", "first shrink every parameter towards 0, "
        "$p \\leftarrow p - \\text{lr}\\cdot\\lambda\\cdot p$ with $\\lambda$ = `weight_decay`, then take "
        "Adam's step with the gradient as it is",
        'check_steps("AdamW(lr=0.1, weight_decay=0.5)"', "decay first, then Adam's step", "adamw_decay_without_lr",
        "adamw_decay_after_the_update", "adamw_no_decay", "adamw_no_adam_step"),
    req("adamw_test", "Adding $\\lambda p$ to the gradient instead (L2 regularisation) is *not* the same with Adam",
        'check_steps("AdamW(lr=0.1) (weight_decay=0.01)"', "decoupled: shrink p.data directly",
        "adamw_decay_in_the_gradient"),
    # train
    req("train_test", "Make **one** optimizer, `Adam(model.parameters(), lr=lr)` (the default betas and eps), "
        "before the loop: its moments must carry over from step to step", "make one Adam before the loop",
        "make one Adam before the loop", "train_new_optimizer_every_step", "train_adam_default_lr",
        "train_sgd_instead_of_adam", "train_ignores_lr"),
    req("train_test", "the mean of `cross_entropy(model(x), label)` over the points of `X`: the sum of the "
        "`len(X)` losses times `1.0 / len(X)`", "the loss is the mean", "the loss is the mean", "train_sum_not_mean"),
    req("train_test", "backward: the optimizer's `zero_grad()`, then `loss.backward()`",
        "opt.zero_grad() before loss.backward()", "opt.zero_grad() before loss.backward()", "train_no_zero_grad",
        "train_zero_grad_after_backward"),
    req("train_test", "Return the list of the `steps` losses as plain floats (`loss.data`), each computed before "
        "that step's update", "the losses are plain floats (loss.data)", "before the update", "train_returns_values",
        "train_ignores_steps"),
    req("train_test", "(use the arguments, not global variables)", "check_steps(call, got", "TRAIN_CASES",
        "train_globals_X_y"),
    req("train_test", "`train(model, X, y, steps, lr=0.1)`", "with the default lr=0.1", "TRAIN_LR",
        "train_default_lr"),
]

# Correct solutions written differently: no visible test and no hidden check may call them wrong.
_CE_BODY = ("    zs = [z.data for z in logits]\n    m = max(zs)\n    exps = [math.exp(z - m) for z in zs]\n"
            "    total = sum(exps)\n    out = Value(math.log(total) - (zs[target] - m), logits, 'cross_entropy')\n\n"
            "    def _backward():\n        for i, z in enumerate(logits):\n" + _CE_GRAD)
VARIANTS = {
    "log_sum_exp": (  # the log-sum-exp once, probabilities from it; the power's gradients from its output
        Edit("pow_solution", _POW_CHECK,
             '    if not self.data > 0:\n'
             '        raise ValueError("a ** b needs a base > 0, got a = " + str(self.data))\n'),
        Edit("pow_solution", _POW_BASE + _POW_EXP,
             "        self.grad += out.grad * other.data * self.data ** (other.data - 1)\n"
             "        other.grad += out.grad * out.data * math.log(self.data)\n"),
        Edit("softplus_solution", _SOFTPLUS, "        s = 0.5 * (1.0 + math.tanh(0.5 * x))\n"),
        Edit("gelu_solution", _GELU_DU + "        self.grad += (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du) * "
             "out.grad\n",
             "        k = math.sqrt(2.0 / math.pi)\n        sech2 = 1.0 - t * t\n"
             "        slope = 0.5 * (1.0 + t) + 0.5 * x * sech2 * k * (1.0 + 3.0 * 0.044715 * x ** 2)\n"
             "        self.grad += out.grad * slope\n"),
        Edit("cross_entropy_solution", _CE_BODY,
             "    zs = [z.data for z in logits]\n    m = max(zs)\n"
             "    lse = m + math.log(sum(math.exp(z - m) for z in zs))\n"
             "    p = [math.exp(z - lse) for z in zs]\n"
             "    out = Value(lse - zs[target], logits, 'cross_entropy')\n\n    def _backward():\n"
             "        for i in range(len(logits)):\n"
             "            logits[i].grad += out.grad * (p[i] - (1.0 if i == target else 0.0))\n"),
        Edit("optimizer_solution", "        for p in self.params:\n            p.grad = 0.0",
             "        for i in range(len(self.params)):\n            self.params[i].grad = 0.0"),
        Edit("sgd_solution", "        self.velocity = [0.0 for _ in self.params]",
             "        self.velocity = [0.0] * len(self.params)"),
        Edit("sgd_solution", _SGD_V + "            if self.nesterov:\n"
             "                p.data -= self.lr * (p.grad + self.momentum * self.velocity[i])\n"
             "            else:\n                p.data -= self.lr * self.velocity[i]\n",
             "            v = self.momentum * self.velocity[i] + p.grad\n            self.velocity[i] = v\n"
             "            direction = p.grad + self.momentum * v if self.nesterov else v\n"
             "            p.data -= self.lr * direction\n"),
        Edit("adam_solution", "        self.m = [0.0 for _ in self.params]\n"
             "        self.v = [0.0 for _ in self.params]",
             "        self.m = [0.0] * len(self.params)\n        self.v = [0.0] * len(self.params)"),
        Edit("adam_solution", _ADAM_HAT + "            p.data -= self.lr * m_hat / (math.sqrt(v_hat) + self.eps)\n",
             "            bc1, bc2 = 1 - b1 ** self.t, 1 - b2 ** self.t\n"
             "            p.data -= self.lr * (self.m[i] / bc1) / (math.sqrt(self.v[i] / bc2) + self.eps)\n"),
        Edit("adamw_solution", _DECAY, "            p.data *= 1 - self.lr * self.weight_decay\n"),
        Edit("train_solution", "sum(cross_entropy(model(x), label) for x, label in zip(X, y)) * (1.0 / len(X))",
             "sum([cross_entropy(model(x), label) for x, label in zip(X, y)]) / len(X)"),
    ),
    "spelled_out": (  # the textbook's order of operations, with names for every quantity
        Edit("pow_solution", _POW_EXP,
             "        other.grad += math.log(self.data) * self.data ** other.data * out.grad\n"),
        Edit("softplus_solution", _SOFTPLUS,
             "        if x >= 0:\n            s = 1.0 / (1.0 + math.exp(-x))\n        else:\n"
             "            e = math.exp(x)\n            s = e / (1.0 + e)\n"),
        Edit("gelu_solution", "(1.0 - t * t)", "(1.0 - t) * (1.0 + t)"),
        Edit("cross_entropy_solution", "math.log(total) - (zs[target] - m)", "m + math.log(total) - zs[target]"),
        Edit("adam_solution", "            self.v[i] = b2 * self.v[i] + (1 - b2) * g * g\n",
             "            self.v[i] = b2 * self.v[i] + (1 - b2) * g ** 2\n"),
        Edit("train_solution", "        losses.append(loss.data)", "        losses.append(float(loss.data))"),
    ),
}
