"""Classic bugs in the topological sort, backward() and zero_grad of assignment 2.

The grade cells are designed so that each bug loses only its own cells: ``ps2.deep``
only asks the sort to finish on a deep chain, and ``ps2.backward``/``ps2.zero_grad``
run with a known-good ``topological_sort`` in place of the student's.
"""

from autograder.mutants import Edit, bug, req

ASSIGNMENT = "ps2_backprop"

_WALK = "topo = topological_sort(self)\n    self.grad = 1.0\n    for node in reversed(topo):\n        node._backward()"
_STACK = ("    stack = [(root, False)]\n    while stack:\n        node, expanded = stack.pop()\n"
          "        if expanded:\n            order.append(node)\n        elif node not in visited:\n"
          "            visited.add(node)\n            stack.append((node, True))\n"
          "            for child in node._prev:\n                stack.append((child, False))\n")

_DOC = '    """Every node reachable from root, exactly once, each after its inputs, root last."""\n'

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
    "visited_default_argument": bug("topo_solution",
                                    "def topological_sort(root):\n" + _DOC + "    order, visited = [], set()\n",
                                    "def topological_sort(root, visited=set()):\n" + _DOC + "    order = []\n",
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
    "walk_skips_root": bug("backward_solution", "    for node in reversed(topo):",
                           "    for node in reversed(topo[:-1]):", "backward_test"),
    "backward_resets_grads": bug("backward_solution", "    self.grad = 1.0\n",
                                 "    for node in topo:\n        node.grad = 0.0\n    self.grad = 1.0\n",
                                 "backward_test"),
    # zero_grad (zero_grad_test)
    "zero_grad_skips_leaves": bug("zero_grad_solution", "        node.grad = 0.0",
                                  "        if node._prev:\n            node.grad = 0.0", "zero_grad_test"),
    "zero_grad_root_only": bug("zero_grad_solution", "    for node in topological_sort(root):\n        node.grad = 0.0",
                               "    root.grad = 0.0", "zero_grad_test"),
    "zero_grad_skips_root": bug("zero_grad_solution", "    for node in topological_sort(root):",
                                "    for node in topological_sort(root)[:-1]:", "zero_grad_test"),
    "zero_grad_resets_data": bug("zero_grad_solution", "        node.grad = 0.0", "        node.grad = node.data = 0.0",
                                 "zero_grad_test"),
    "zero_grad_every_value": bug("zero_grad_solution", "    for node in topological_sort(root):",
                                 "    import gc\n"
                                 "    for node in [v for v in gc.get_objects() if isinstance(v, Value)]:",
                                 "zero_grad_test"),
}

REQUIREMENTS = [
    req("topo_test", "Return a list of every node `root` depends on (follow `_prev`)",
        "assert_topological(topological_sort(a), a, [a])", "leaf_alone()", "returns_generator", "leaf_alone_empty",
        "sort_skips_leaves"),
    req("topo_test", "each exactly once", "assert_topological(topological_sort(c), c, [a, b, c])",
        "used_many_times()", "no_visited_set"),
    req("topo_test", "inputs before the nodes that use them, `root` last",
        "assert_topological(first, o, [x, w, k, xw, n, nx, o])", "comes before its input", "reversed_order",
        "preorder"),
    req("topo_test", "the same answer on every call (the hidden tests sort each graph twice), so keep the `visited` "
        "set local to the call, not on the nodes", "assert again == first", "called a second time",
        "visited_flag_on_nodes", "visited_default_argument"),
    req("topo_test", "Do not forget the `visited` set in either version. Without it a node is entered once per path "
        "from the root", "assert_topological(sort_counting(y, ladder), y, ladder)", "ladder_check(engine)",
        "dedup_without_visited", "recursive_no_visited"),
    req("deep_test", "Use an explicit stack, not recursion: the test cell after this one builds a chain 10,000 "
        "operations deep", "except RecursionError:", "raised RecursionError", "recursive_sort",
        "recursive_no_visited"),
    req("backward_test", "set it, even if the root already holds a gradient", "assert r.grad == 1.0",
        "seeded_root()", "seed_accumulates"),
    req("backward_test", "before anything else runs", "assert got == (1.0, 2.0, 4.0)", "seed the root",
        "not_seeding", "seeding_after_walk"),
    req("backward_test", "call `_backward()` of every node in **reverse** topological order (the root first)",
        "ORDER_HINTS", "reverse topological order", "walk_not_reversed", "recursive_backward", "walk_skips_root"),
    req("backward_test", "`backward()` never resets a gradient",
        "check_gradients(lambda w: w * w + w, [-2.0], full=True, initial=0.5)", "dags(grads=True)",
        "backward_resets_grads"),
    req("zero_grad_test", "sets `grad = 0.0` on every node of `root`'s graph, leaves and interior nodes alike",
        "assert (w.grad, x.grad, y.grad) == (0.0, 0.0, 0.0)", "leaves included", "zero_grad_skips_leaves",
        "zero_grad_root_only", "zero_grad_skips_root"),
    req("zero_grad_test", "leaves every other node", "assert z.grad == 5.0", "is not part of",
        "zero_grad_every_value"),
    req("zero_grad_test", "(and every `data`) alone", "zero_grad must not change data",
        "zero_grad must not change data", "zero_grad_resets_data"),
]

# Correct solutions written differently: no visible test and no hidden check may call them wrong.
_SOLUTION_SORT = ("    order, visited = [], set()\n" + _STACK + "    return order\n")
VARIANTS = {
    "iterator_stack": (  # zengrad_ref's own sort: a stack of (node, its inputs' iterator); leaves emitted at once
        Edit("topo_solution", _SOLUTION_SORT,
             "    order, visited = [], {root}\n    stack = [(root, iter(root._prev))]\n    while stack:\n"
             "        node, inputs = stack[-1]\n        for child in inputs:\n            if child not in visited:\n"
             "                visited.add(child)\n                stack.append((child, iter(child._prev)))\n"
             "                break\n        else:\n            stack.pop()\n            order.append(node)\n"
             "    return order\n"),
        Edit("backward_solution", "    for node in reversed(topo):", "    for node in topo[::-1]:"),
        Edit("zero_grad_solution", "    for node in topological_sort(root):\n        node.grad = 0.0",
             "    seen, stack = set(), [root]\n    while stack:\n        node = stack.pop()\n"
             "        if id(node) not in seen:\n            seen.add(id(node))\n            node.grad = 0.0\n"
             "            stack.extend(node._prev)"),
    ),
    "kahn": (  # Kahn's algorithm: count the distinct inputs of each node, emit a node once all of them are out
        Edit("topo_solution", _SOLUTION_SORT,
             "    nodes, stack, seen = [], [root], {id(root)}\n    while stack:\n        node = stack.pop()\n"
             "        nodes.append(node)\n        for child in node._prev:\n            if id(child) not in seen:\n"
             "                seen.add(id(child))\n                stack.append(child)\n"
             "    missing = {id(n): len(set(map(id, n._prev))) for n in nodes}\n"
             "    users = {id(n): [] for n in nodes}\n    for n in nodes:\n"
             "        for child in {id(c): c for c in n._prev}.values():\n            users[id(child)].append(n)\n"
             "    ready = [n for n in nodes if missing[id(n)] == 0]\n    order = []\n    while ready:\n"
             "        node = ready.pop()\n        order.append(node)\n        for user in users[id(node)]:\n"
             "            missing[id(user)] -= 1\n            if missing[id(user)] == 0:\n"
             "                ready.append(user)\n    return order\n"),
        Edit("backward_solution", "    self.grad = 1.0\n    for node in reversed(topo):\n        node._backward()",
             "    self.grad = 1.0\n    i = len(topo)\n    while i > 0:\n        i -= 1\n        topo[i]._backward()"),
    ),
    "ids_and_lists": (  # the visited set keyed by id(), the order built reversed and flipped once
        Edit("topo_solution", "        elif node not in visited:\n            visited.add(node)\n",
             "        elif id(node) not in visited:\n            visited.add(id(node))\n"),
        Edit("zero_grad_solution", "    for node in topological_sort(root):\n        node.grad = 0.0",
             "    nodes = topological_sort(root)\n    for i in range(len(nodes)):\n        nodes[i].grad = 0.0"),
    ),
}
