"""Classic bugs in the local derivatives of assignment 1."""

ASSIGNMENT = "ps1_operators"

MUTANTS = {
    "add_overwrites": ("add_solution", "self.grad += out.grad", "self.grad = out.grad", "add_test"),
    "mul_swapped": ("mul_solution", "self.grad += other.data * out.grad", "self.grad += self.data * out.grad",
                    "mul_test"),
    "mul_no_chain_rule": ("mul_solution", "other.grad += self.data * out.grad", "other.grad += self.data",
                          "mul_test"),
    "pow_wrong_exponent": ("pow_solution", "n * self.data ** (n - 1)", "n * self.data ** n", "pow_test"),
    "exp_no_chain_rule": ("exp_solution", "self.grad += out.data * out.grad", "self.grad += out.data", "exp_test"),
    "log_wrong": ("log_solution", "self.grad += out.grad / self.data", "self.grad += out.grad * self.data",
                  "log_test"),
    "tanh_one_minus_t": ("tanh_solution", "(1 - t**2)", "(1 - t)", "tanh_test"),
    "relu_wrong_side": ("relu_solution", "(self.data > 0)", "(self.data < 0)", "relu_test"),
    "relu_at_zero": ("relu_solution", "(self.data > 0)", "(self.data >= 0)", "relu_test"),
    "sigmoid_overflows": ("sigmoid_solution", "self.grad += s * (1 - s) * out.grad",
                          "self.grad += math.exp(-self.data) / (1 + math.exp(-self.data))**2 * out.grad",
                          "sigmoid_test"),
}
