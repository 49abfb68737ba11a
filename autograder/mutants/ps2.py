"""Classic bugs in the topological sort, backward() and zero_grad of assignment 2.

The grade cells are designed so that each bug loses only its own cells: ``ps2.deep``
only asks the sort to finish on a deep chain, and ``ps2.backward``/``ps2.zero_grad``
run with a known-good ``topological_sort`` in place of the student's.
"""

from autograder.mutants import bug

ASSIGNMENT = "ps2_backprop"

_WALK = "topo = topological_sort(self)\n    self.grad = 1.0\n    for node in reversed(topo):\n        node._backward()"
_STACK = ("    stack = [(root, False)]\n    while stack:\n        node, expanded = stack.pop()\n"
          "        if expanded:\n            order.append(node)\n        elif node not in visited:\n"
          "            visited.add(node)\n            stack.append((node, True))\n"
          "            for child in node._prev:\n                stack.append((child, False))\n")

MUTANTS = {
    # topological_sort (topo_test)
    "no_visited_set": bug("topo_solution", "elif node not in visited:", "else:", "topo_test"),
    "dedup_without_visited": bug("topo_solution", "            order.append(node)\n        elif node not in visited:",
                                 "            if node not in order:\n                order.append(node)\n        else:",
                                 "topo_test"),
    "reversed_order": bug("topo_solution", "    return order", "    return order[::-1]", "topo_test"),
    "sort_skips_leaves": bug("topo_solution", "            order.append(node)",
                             "            if node._prev:\n                order.append(node)", "topo_test"),
    "preorder": bug("topo_solution", "        if expanded:\n            order.append(node)\n"
                    "        elif node not in visited:\n            visited.add(node)\n",
                    "        if expanded:\n            pass\n"
                    "        elif node not in visited:\n            visited.add(node)\n"
                    "            order.append(node)\n",
                    "topo_test"),
    "leaf_alone_empty": bug("topo_solution", "    order, visited = [], set()",
                            "    if not root._prev:\n        return []\n    order, visited = [], set()", "topo_test"),
    "returns_generator": bug("topo_solution", "    return order", "    return (node for node in order)", "topo_test"),
    "visited_flag_on_nodes": bug("topo_solution", "        elif node not in visited:\n            visited.add(node)\n",
                                 "        elif not getattr(node, 'visited', False):\n            node.visited = True\n",
                                 "topo_test"),
    # topological_sort on a deep chain (deep_test)
    "recursive_sort": bug("topo_solution", _STACK,
                          "    def build(v):\n        if v not in visited:\n            visited.add(v)\n"
                          "            for child in v._prev:\n                build(child)\n"
                          "            order.append(v)\n    build(root)\n",
                          "deep_test"),
    # both: a recursive sort without a visited set
    "recursive_no_visited": bug("topo_solution", _STACK,
                                "    def build(v):\n        for child in v._prev:\n            build(child)\n"
                                "        order.append(v)\n    build(root)\n",
                                "topo_test", "deep_test"),
    # backward (backward_test)
    "not_seeding": bug("backward_solution", "    self.grad = 1.0\n", "", "backward_test"),
    "seeding_after_walk": bug("backward_solution", _WALK,
                              "topo = topological_sort(self)\n    for node in reversed(topo):\n"
                              "        node._backward()\n    self.grad = 1.0",
                              "backward_test"),
    "seed_accumulates": bug("backward_solution", "    self.grad = 1.0\n", "    self.grad += 1.0\n", "backward_test"),
    "recursive_backward": bug("backward_solution", _WALK,
                              "self.grad = 1.0\n    def walk(v):\n        v._backward()\n"
                              "        for child in v._prev:\n            walk(child)\n    walk(self)",
                              "backward_test"),
    "walk_not_reversed": bug("backward_solution", "    for node in reversed(topo):", "    for node in topo:",
                             "backward_test"),
    "backward_resets_grads": bug("backward_solution", "    self.grad = 1.0\n",
                                 "    for node in topo:\n        node.grad = 0.0\n    self.grad = 1.0\n",
                                 "backward_test"),
    # zero_grad (zero_grad_test)
    "zero_grad_skips_leaves": bug("zero_grad_solution", "        node.grad = 0.0",
                                  "        if node._prev:\n            node.grad = 0.0", "zero_grad_test"),
    "zero_grad_root_only": bug("zero_grad_solution", "    for node in topological_sort(root):\n        node.grad = 0.0",
                               "    root.grad = 0.0", "zero_grad_test"),
    "zero_grad_resets_data": bug("zero_grad_solution", "        node.grad = 0.0", "        node.grad = node.data = 0.0",
                                 "zero_grad_test"),
    "zero_grad_every_value": bug("zero_grad_solution", "    for node in topological_sort(root):",
                                 "    import gc\n"
                                 "    for node in [v for v in gc.get_objects() if isinstance(v, Value)]:",
                                 "zero_grad_test"),
}
