"""Classic bugs in the topological sort, backward() and zero_grad of assignment 2.

The grade cells are designed so that each bug loses exactly one cell: ``ps2.deep``
only asks the sort to finish on a deep chain, and ``ps2.backward``/``ps2.zero_grad``
forgive a wrong order that comes from the student's own ``topological_sort``.
"""

ASSIGNMENT = "ps2_backprop"

_WALK = "topo = topological_sort(self)\n    self.grad = 1.0\n    for node in reversed(topo):\n        node._backward()"

MUTANTS = {
    # topological_sort (topo_test)
    "no_visited_set": ("topo_solution", "elif node not in visited:", "else:", "topo_test"),
    "dedup_without_visited": ("topo_solution", "            order.append(node)\n        elif node not in visited:",
                              "            if node not in order:\n                order.append(node)\n        else:",
                              "topo_test"),
    "reversed_order": ("topo_solution", "    return order", "    return order[::-1]", "topo_test"),
    "sort_skips_leaves": ("topo_solution", "            order.append(node)",
                          "            if node._prev:\n                order.append(node)", "topo_test"),
    # topological_sort on a deep chain (deep_test)
    "recursive_sort": ("topo_solution",
                       "    stack = [(root, False)]\n    while stack:\n        node, expanded = stack.pop()\n"
                       "        if expanded:\n            order.append(node)\n        elif node not in visited:\n"
                       "            visited.add(node)\n            stack.append((node, True))\n"
                       "            for child in node._prev:\n                stack.append((child, False))\n",
                       "    def build(v):\n        if v not in visited:\n            visited.add(v)\n"
                       "            for child in v._prev:\n                build(child)\n            order.append(v)\n"
                       "    build(root)\n",
                       "deep_test"),
    # backward (backward_test)
    "not_seeding": ("backward_solution", "    self.grad = 1.0\n", "", "backward_test"),
    "seeding_after_walk": ("backward_solution", _WALK,
                           "topo = topological_sort(self)\n    for node in reversed(topo):\n        node._backward()\n"
                           "    self.grad = 1.0",
                           "backward_test"),
    "recursive_backward": ("backward_solution", _WALK,
                           "self.grad = 1.0\n    def walk(v):\n        v._backward()\n        for child in v._prev:\n"
                           "            walk(child)\n    walk(self)",
                           "backward_test"),
    # zero_grad (zero_grad_test)
    "zero_grad_skips_leaves": ("zero_grad_solution", "        node.grad = 0.0",
                               "        if node._prev:\n            node.grad = 0.0", "zero_grad_test"),
}
