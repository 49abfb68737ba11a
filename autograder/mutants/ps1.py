"""Classic bugs in the local derivatives of assignment 1.

Per operator: the wrong local derivative, the chain rule forgotten (no ``* out.grad``),
``=`` where ``+=`` belongs, and the numerical traps the text names (relu'(0) = 0,
no overflow at +-1000 for tanh and sigmoid, exp's derivative from ``out.data``).
"""

from autograder.mutants import bug

ASSIGNMENT = "ps1_operators"

MUTANTS = {
    "add_overwrites": bug("add_solution", "self.grad += out.grad", "self.grad = out.grad", "add_test"),
    "add_no_chain_rule": bug("add_solution", "        self.grad += out.grad\n        other.grad += out.grad",
                             "        self.grad += 1.0\n        other.grad += 1.0", "add_test"),
    "add_forgets_other": bug("add_solution", "        other.grad += out.grad\n", "", "add_test"),
    "mul_swapped": bug("mul_solution", "self.grad += other.data * out.grad", "self.grad += self.data * out.grad",
                       "mul_test"),
    "mul_no_chain_rule": bug("mul_solution", "other.grad += self.data * out.grad", "other.grad += self.data",
                             "mul_test"),
    "mul_overwrites": bug("mul_solution", "self.grad += other.data * out.grad", "self.grad = other.data * out.grad",
                          "mul_test"),
    "pow_wrong_exponent": bug("pow_solution", "n * self.data ** (n - 1)", "n * self.data ** n", "pow_test"),
    "pow_no_chain_rule": bug("pow_solution", "n * self.data ** (n - 1) * out.grad", "n * self.data ** (n - 1)",
                             "pow_test"),
    "pow_overwrites": bug("pow_solution", "self.grad += n *", "self.grad = n *", "pow_test"),
    "exp_no_chain_rule": bug("exp_solution", "self.grad += out.data * out.grad", "self.grad += out.data", "exp_test"),
    "exp_recomputes_overflows": bug("exp_solution", "self.grad += out.data * out.grad",
                                    "self.grad += math.exp(self.data) * out.grad", "exp_test"),
    "exp_overwrites": bug("exp_solution", "self.grad += out.data", "self.grad = out.data", "exp_test"),
    "log_wrong": bug("log_solution", "self.grad += out.grad / self.data", "self.grad += out.grad * self.data",
                     "log_test"),
    "log_no_chain_rule": bug("log_solution", "self.grad += out.grad / self.data", "self.grad += 1 / self.data",
                             "log_test"),
    "log_overwrites": bug("log_solution", "self.grad += out.grad", "self.grad = out.grad", "log_test"),
    "tanh_one_minus_t": bug("tanh_solution", "(1 - t**2)", "(1 - t)", "tanh_test"),
    "tanh_cosh_overflows": bug("tanh_solution", "self.grad += (1 - t**2) * out.grad",
                               "self.grad += out.grad / math.cosh(self.data) ** 2", "tanh_test"),
    "tanh_overwrites": bug("tanh_solution", "self.grad += (1 - t**2)", "self.grad = (1 - t**2)", "tanh_test"),
    "relu_wrong_side": bug("relu_solution", "(self.data > 0)", "(self.data < 0)", "relu_test"),
    "relu_at_zero": bug("relu_solution", "(self.data > 0)", "(self.data >= 0)", "relu_test"),
    "relu_no_chain_rule": bug("relu_solution", "(self.data > 0) * out.grad", "float(self.data > 0)", "relu_test"),
    "sigmoid_overflows": bug("sigmoid_solution", "self.grad += s * (1 - s) * out.grad",
                             "self.grad += math.exp(-self.data) / (1 + math.exp(-self.data))**2 * out.grad",
                             "sigmoid_test"),
    "sigmoid_uses_input": bug("sigmoid_solution", "s * (1 - s) * out.grad", "self.data * (1 - self.data) * out.grad",
                              "sigmoid_test"),
    "sigmoid_overwrites": bug("sigmoid_solution", "self.grad += s", "self.grad = s", "sigmoid_test"),
}
