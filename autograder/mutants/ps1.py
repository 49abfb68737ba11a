"""Classic bugs in the local derivatives of assignment 1.

Per operator: the wrong local derivative, the chain rule forgotten (no ``* out.grad``),
``=`` where ``+=`` belongs, and the numerical traps the text names (relu'(0) = 0,
no overflow at +-1000 for tanh and sigmoid, exp's derivative from ``out.data``).
"""

from autograder.mutants import Edit, bug, req

ASSIGNMENT = "ps1_operators"

MUTANTS = {
    "add_overwrites": bug("add_solution", "self.grad += out.grad", "self.grad = out.grad", "add_test"),
    "add_no_chain_rule": bug("add_solution", "        self.grad += out.grad\n        other.grad += out.grad",
                             "        self.grad += 1.0\n        other.grad += 1.0", "add_test"),
    "add_forgets_other": bug("add_solution", "        other.grad += out.grad\n", "", "add_test"),
    "add_other_overwrites": bug("add_solution", "other.grad += out.grad", "other.grad = out.grad", "add_test"),
    "mul_swapped": bug("mul_solution", "self.grad += other.data * out.grad", "self.grad += self.data * out.grad",
                       "mul_test"),
    "mul_no_chain_rule": bug("mul_solution", "other.grad += self.data * out.grad", "other.grad += self.data",
                             "mul_test"),
    "mul_other_overwrites": bug("mul_solution", "other.grad += self.data * out.grad",
                                "other.grad = self.data * out.grad", "mul_test"),
    "mul_overwrites": bug("mul_solution", "self.grad += other.data * out.grad", "self.grad = other.data * out.grad",
                          "mul_test"),
    "pow_wrong_exponent": bug("pow_solution", "n * self.data ** (n - 1)", "n * self.data ** n", "pow_test"),
    "pow_no_chain_rule": bug("pow_solution", "n * self.data ** (n - 1) * out.grad", "n * self.data ** (n - 1)",
                             "pow_test"),
    "pow_overwrites": bug("pow_solution", "self.grad += n *", "self.grad = n *", "pow_test"),
    "pow_drops_n": bug("pow_solution", "n * self.data ** (n - 1)", "self.data ** (n - 1)", "pow_test"),
    "exp_uses_input": bug("exp_solution", "self.grad += out.data * out.grad", "self.grad += self.data * out.grad",
                          "exp_test"),
    "exp_no_chain_rule": bug("exp_solution", "self.grad += out.data * out.grad", "self.grad += out.data", "exp_test"),
    "exp_recomputes_overflows": bug("exp_solution", "self.grad += out.data * out.grad",
                                    "self.grad += math.exp(self.data) * out.grad", "exp_test"),
    "exp_overwrites": bug("exp_solution", "self.grad += out.data", "self.grad = out.data", "exp_test"),
    "log_wrong": bug("log_solution", "self.grad += out.grad / self.data", "self.grad += out.grad * self.data",
                     "log_test"),
    "log_no_chain_rule": bug("log_solution", "self.grad += out.grad / self.data", "self.grad += 1 / self.data",
                             "log_test"),
    "log_overwrites": bug("log_solution", "self.grad += out.grad", "self.grad = out.grad", "log_test"),
    "log_uses_output": bug("log_solution", "self.grad += out.grad / self.data", "self.grad += out.grad / out.data",
                           "log_test"),
    "tanh_one_minus_t": bug("tanh_solution", "(1 - t**2)", "(1 - t)", "tanh_test"),
    "tanh_cosh_overflows": bug("tanh_solution", "self.grad += (1 - t**2) * out.grad",
                               "self.grad += out.grad / math.cosh(self.data) ** 2", "tanh_test"),
    "tanh_overwrites": bug("tanh_solution", "self.grad += (1 - t**2)", "self.grad = (1 - t**2)", "tanh_test"),
    "tanh_uses_input": bug("tanh_solution", "(1 - t**2)", "(1 - self.data**2)", "tanh_test"),
    "tanh_no_chain_rule": bug("tanh_solution", "(1 - t**2) * out.grad", "(1 - t**2)", "tanh_test"),
    "relu_wrong_side": bug("relu_solution", "(self.data > 0)", "(self.data < 0)", "relu_test"),
    "relu_at_zero": bug("relu_solution", "(self.data > 0)", "(self.data >= 0)", "relu_test"),
    "relu_always_one": bug("relu_solution", "(self.data > 0) * out.grad", "out.grad", "relu_test"),
    "relu_overwrites": bug("relu_solution", "self.grad += (self.data > 0)", "self.grad = (self.data > 0)",
                           "relu_test"),
    "relu_no_chain_rule": bug("relu_solution", "(self.data > 0) * out.grad", "float(self.data > 0)", "relu_test"),
    "sigmoid_overflows": bug("sigmoid_solution", "self.grad += s * (1 - s) * out.grad",
                             "self.grad += math.exp(-self.data) / (1 + math.exp(-self.data))**2 * out.grad",
                             "sigmoid_test"),
    "sigmoid_uses_input": bug("sigmoid_solution", "s * (1 - s) * out.grad", "self.data * (1 - self.data) * out.grad",
                              "sigmoid_test"),
    "sigmoid_overwrites": bug("sigmoid_solution", "self.grad += s", "self.grad = s", "sigmoid_test"),
    "sigmoid_no_chain_rule": bug("sigmoid_solution", "s * (1 - s) * out.grad", "s * (1 - s)", "sigmoid_test"),
}

# Two of the three rules every _backward follows (section 4), held in every operator's cell; the first, the
# local derivative, is each operator's own formula.
_CHAIN = "**chain rule** — multiply it by `out.grad`, the gradient that arrived at the output"
_TWICE = "a value used twice (`a * a`, `x + x + x`) receives a contribution from every use"
_HELD = "a value that already holds a gradient (from another part of the graph) keeps it"

REQUIREMENTS = [
    req("add_test", r"$\partial\,\text{out}/\partial\,\text{self} = 1$ and "
        r"$\partial\,\text{out}/\partial\,\text{other} = 1$", "check_gradients(lambda a, b: a + b, [2.0, -3.0])",
        '"a op b"', "add_forgets_other"),
    req("add_test", _CHAIN, "upstream=-2.0", "g=UPSTREAM", "add_no_chain_rule"),
    req("add_test", _TWICE, "check_gradients(lambda a: a + a, [3.0])", '"a op a"', "add_other_overwrites"),
    req("add_test", _HELD, "initial=[0.25, -1.0]", "g0=INITIAL", "add_overwrites"),
    req("mul_test", r"$\partial\,\text{out}/\partial\,\text{self} = \text{other}$",
        "check_gradients(lambda a, b: a * b, [2.0, -3.0])", '"a op b"', "mul_swapped"),
    req("mul_test", _CHAIN, "upstream=-2.0", "g=UPSTREAM", "mul_no_chain_rule"),
    req("mul_test", _TWICE, "check_gradients(lambda a: a * a, [3.0])", '"a op a"', "mul_other_overwrites"),
    req("mul_test", _HELD, "initial=[0.5, -1.0]", "g0=INITIAL", "mul_overwrites"),
    req("pow_test", r"$\partial\,\text{out}/\partial\,\text{self} = n \cdot \text{self}^{\,n-1}$",
        "check_gradients(lambda a: a ** 2, [3.0])", '"a ** n"', "pow_wrong_exponent", "pow_drops_n"),
    req("pow_test", _CHAIN, "upstream=0.5", "g=UPSTREAM", "pow_no_chain_rule"),
    req("pow_test", _HELD, "initial=2.0", "g0=INITIAL", "pow_overwrites"),
    req("exp_test", "the local derivative is the output itself, `out.data`",
        "check_gradients(lambda a: a.exp(), [1.0])", '"f(a)"', "exp_uses_input"),
    req("exp_test", "for $x \\ge 709.78$ the forward pass gives `inf`, where `math.exp(self.data)` would raise "
        "`OverflowError`", "check_gradients(lambda a: a.exp(), [1000.0])", "edges=[-700.0, 1000.0]",
        "exp_recomputes_overflows"),
    req("exp_test", _CHAIN, "upstream=3.0", "g=UPSTREAM", "exp_no_chain_rule"),
    req("exp_test", _HELD, "initial=0.5", "g0=INITIAL", "exp_overwrites"),
    req("log_test", r"$\frac{d}{dx}\log x = 1/x$", "check_gradients(lambda a: a.log(), [2.0])", '"f(a)"',
        "log_wrong", "log_uses_output"),
    req("log_test", _CHAIN, "upstream=-1.0", "g=UPSTREAM", "log_no_chain_rule"),
    req("log_test", _HELD, "initial=0.5", "g0=INITIAL", "log_overwrites"),
    req("tanh_test", r"$\frac{d}{dx}\tanh x = 1 - \tanh^2 x$", "check_gradients(lambda a: a.tanh(), [0.5])",
        '"f(a)"', "tanh_one_minus_t", "tanh_uses_input"),
    req("tanh_test", "`math.cosh(x)` overflows for $|x| > 710$; the hidden tests try $x = \\pm 1000$",
        "check_gradients(lambda a: a.tanh(), [-1000.0])", "edges=[1000.0, -1000.0, 20.0]", "tanh_cosh_overflows"),
    req("tanh_test", _CHAIN, "upstream=2.0", "g=UPSTREAM", "tanh_no_chain_rule"),
    req("tanh_test", _HELD, "initial=0.75", "g0=INITIAL", "tanh_overwrites"),
    req("relu_test", "The slope is 1 where the input is positive and 0 where it is negative",
        "check_gradients(lambda a: a.relu(), [-0.7], upstream=3.0)", "reals(-5, -1e-3), reals(1e-3, 5)",
        "relu_wrong_side", "relu_always_one"),
    req("relu_test", "At exactly 0 the function has a kink; like PyTorch, we use **0** there",
        "assert r.grad == 0.0", "edges=[0.0, -0.0]", "relu_at_zero"),
    req("relu_test", _CHAIN, "upstream=3.0", "g=UPSTREAM", "relu_no_chain_rule"),
    req("relu_test", _HELD, "initial=-0.5", "g0=INITIAL", "relu_overwrites"),
    req("sigmoid_test", r"$\sigma'(x) = s\,(1 - s)$", "check_gradients(lambda a: a.sigmoid(), [0.3])", '"f(a)"',
        "sigmoid_uses_input"),
    req("sigmoid_test", "make sure your `_backward` does not overflow either (reuse `s`)",
        "check_gradients(lambda a: a.sigmoid(), [-1000.0])", "edges=[1000.0, -1000.0, 40.0]", "sigmoid_overflows"),
    req("sigmoid_test", _CHAIN, "upstream=-1.5", "g=UPSTREAM", "sigmoid_no_chain_rule"),
    req("sigmoid_test", _HELD, "initial=0.5", "g0=INITIAL", "sigmoid_overwrites"),
]

# Correct solutions written differently: no visible test and no hidden check may call them wrong.
VARIANTS = {
    "through_out_data": (  # the local derivatives from the output where the text allows it, operands swapped
        Edit("add_solution", "        self.grad += out.grad\n        other.grad += out.grad",
             "        g = out.grad\n        self.grad = self.grad + g\n        other.grad = other.grad + g"),
        Edit("mul_solution", "        self.grad += other.data * out.grad\n        other.grad += self.data * out.grad",
             "        a, b = self.data, other.data\n        self.grad += out.grad * b\n"
             "        other.grad += out.grad * a"),
        Edit("pow_solution", "self.grad += n * self.data ** (n - 1) * out.grad",
             "self.grad += out.grad * (n * self.data ** (n - 1))"),
        Edit("exp_solution", "self.grad += out.data * out.grad", "self.grad = self.grad + out.grad * out.data"),
        Edit("log_solution", "self.grad += out.grad / self.data", "self.grad += (1.0 / self.data) * out.grad"),
        Edit("tanh_solution", "self.grad += (1 - t**2) * out.grad",
             "self.grad += (1 - out.data * out.data) * out.grad"),
        Edit("relu_solution", "self.grad += (self.data > 0) * out.grad",
             "self.grad += out.grad if self.data > 0 else 0.0"),
        Edit("sigmoid_solution", "self.grad += s * (1 - s) * out.grad",
             "self.grad += out.data * (1.0 - out.data) * out.grad"),
    ),
    "factored": (  # other algebra for the same derivatives
        Edit("add_solution", "        self.grad += out.grad\n        other.grad += out.grad",
             "        for v in (self, other):\n            v.grad += 1.0 * out.grad"),
        Edit("pow_solution", "self.grad += n * self.data ** (n - 1) * out.grad",
             "self.grad += n * out.grad * self.data ** (n - 1)"),
        Edit("log_solution", "self.grad += out.grad / self.data", "self.grad += out.grad * self.data ** -1"),
        Edit("tanh_solution", "self.grad += (1 - t**2) * out.grad", "self.grad += (1 - t) * (1 + t) * out.grad"),
        Edit("relu_solution", "        self.grad += (self.data > 0) * out.grad",
             "        if self.data > 0:\n            self.grad += out.grad"),
        Edit("sigmoid_solution", "self.grad += s * (1 - s) * out.grad", "self.grad += (s - s * s) * out.grad"),
    ),
}
