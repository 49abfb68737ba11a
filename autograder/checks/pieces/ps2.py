# ruff: noqa: F821 - ``Value`` is the student's, from the namespace this source is executed in
"""Known-good pieces of problem set 2: ``topological_sort``.

Executed in the sandboxed worker over the student's ``Value`` (see
``autograder/checks/pieces/__init__.py``); never imported by the grader.
``ps2.backward`` and ``ps2.zero_grad`` run with this sort in place of the
student's, so a wrong order costs only the sort's own cells.
"""


def topological_sort(root):
    """Every node reachable from root, exactly once, each after its inputs, root last (no recursion)."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif node not in visited:
            visited.add(node)
            stack.append((node, True))
            for child in node._prev:
                stack.append((child, False))
    return order
