"""Similarity report (autograder/results/similarity.py): a planted copy is flagged, independent writes are not."""
from __future__ import annotations

import itertools
import json
import random
import shutil
from html.parser import HTMLParser
from pathlib import Path

from autograder.results.similarity import similarity_report

REPO = Path(__file__).resolve().parents[1]
STUB = ['        # YOUR CODE HERE\n',
        '        raise NotImplementedError("not implemented yet: replace these two lines with your code")\n']

#: genuinely different correct ways to write each backward, as independent students would
STYLES: dict[str, list[list[str]]] = {
    "add_solution": [
        ["self.grad += out.grad", "other.grad += out.grad"],
        ["g = out.grad", "self.grad = self.grad + g", "other.grad = other.grad + g"],
        ["for child in (self, other):", "    child.grad += 1.0 * out.grad"],
        ["# d(a+b)/da = 1", "self.grad += 1 * out.grad", "# d(a+b)/db = 1", "other.grad += 1 * out.grad"],
    ],
    "mul_solution": [
        ["self.grad += other.data * out.grad", "other.grad += self.data * out.grad"],
        ["a, b = self, other", "upstream = out.grad", "a.grad = a.grad + b.data * upstream",
         "b.grad = b.grad + a.data * upstream"],
        ["self.grad += out.grad * other.data", "other.grad += out.grad * self.data"],
        ["def local(x, y):", "    return y.data * out.grad", "self.grad += local(self, other)",
         "other.grad += local(other, self)"],
    ],
    "pow_solution": [
        ["self.grad += n * self.data ** (n - 1) * out.grad"],
        ["derivative = n * math.pow(self.data, n - 1)", "self.grad = self.grad + derivative * out.grad"],
        ["if n == 0:", "    return", "self.grad += out.grad * n * (self.data ** (n - 1))"],
        ["local_grad = n * (out.data / self.data) if self.data != 0 else n * self.data ** (n - 1)",
         "self.grad += local_grad * out.grad"],
    ],
    "exp_solution": [
        ["self.grad += out.data * out.grad"],
        ["e_x = math.exp(x)", "self.grad = self.grad + e_x * out.grad"],
        ["# derivative of exp is exp itself", "self.grad += out.grad * out.data"],
    ],
    "log_solution": [
        ["self.grad += out.grad / self.data"],
        ["inv = 1.0 / self.data", "self.grad = self.grad + inv * out.grad"],
        ["self.grad += (1 / self.data) * out.grad  # d/dx log x = 1/x"],
    ],
    "tanh_solution": [
        ["self.grad += (1 - t**2) * out.grad"],
        ["local = 1.0 - t * t", "self.grad = self.grad + local * out.grad"],
        ["sech2 = 1 / math.cosh(self.data) ** 2", "self.grad += sech2 * out.grad"],
        ["self.grad += out.grad * (1 - out.data ** 2)"],
    ],
    "relu_solution": [
        ["self.grad += (self.data > 0) * out.grad"],
        ["if self.data > 0:", "    self.grad += out.grad"],
        ["mask = 1.0 if out.data > 0 else 0.0", "self.grad = self.grad + mask * out.grad"],
    ],
    "sigmoid_solution": [
        ["self.grad += s * (1 - s) * out.grad"],
        ["ds = s - s * s", "self.grad = self.grad + ds * out.grad"],
        ["self.grad += out.grad * out.data * (1.0 - out.data)"],
    ],
}


def notebook_with(bodies: dict[str, list[str]], release: Path) -> dict:
    """The release notebook with each solution cell's stub lines replaced by ``bodies[grade_id]``."""
    nb = json.loads(release.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if gid in bodies:
            src = "".join(cell["source"])
            for line in STUB:
                src = src.replace(line, "")
            head, sep, tail = src.partition("    def _backward():\n")
            body = "".join(f"        {line}\n" for line in bodies[gid])
            cell["source"] = (head + sep + body + tail).splitlines(keepends=True)
    return nb


def independent_bodies(n: int, seed: int = 0) -> list[dict[str, list[str]]]:
    """``n`` students, each choosing one style per operator; no two share most of their choices."""
    rng = random.Random(seed)
    combos = list(itertools.product(*(range(len(v)) for v in STYLES.values())))
    rng.shuffle(combos)
    chosen: list[tuple[int, ...]] = []
    for combo in combos:
        if all(sum(a == b for a, b in zip(combo, c, strict=True)) <= 3 for c in chosen):
            chosen.append(combo)
        if len(chosen) == n:
            break
    if len(chosen) < n:  # more students than genuinely different combinations: allow more overlap
        chosen += [c for c in combos if c not in chosen][:n - len(chosen)]
    return [{gid: STYLES[gid][k] for gid, k in zip(STYLES, combo, strict=True)} for combo in chosen]


RENAMES = {"out": "result", "upstream": "g_up", "other": "rhs", "local": "helper", "g": "incoming"}


def planted_copy(bodies: dict[str, list[str]]) -> dict[str, list[str]]:
    """The same solution with variables renamed and independent lines swapped."""
    import re

    copied = {}
    for gid, lines in bodies.items():
        new = [re.sub(r"\b(\w+)\b", lambda m: RENAMES.get(m.group(1), m.group(1)), line) for line in lines]
        last = new[-2:]
        if len(last) == 2 and {line.split(".")[0] for line in last} == {"self", "rhs"}:
            new = new[:-2] + last[::-1]  # the two operands' gradient updates are independent: swap them
        copied[gid] = new
    # renaming `out` needs the stub's own line renamed too, which a student would not do: keep `out`
    return {gid: [line.replace("result", "out") for line in v] for gid, v in copied.items()}


def make_course(tmp: Path, students: dict[str, dict]) -> Path:
    course = tmp / "course"
    (course / "release").mkdir(parents=True)
    shutil.copytree(REPO / "release" / "ps1_operators", course / "release" / "ps1_operators")
    for student, nb in students.items():
        d = course / "submitted" / student / "ps1_operators"
        d.mkdir(parents=True)
        (d / "ps1_operators.ipynb").write_text(nb if isinstance(nb, str) else json.dumps(nb), encoding="utf-8")
    return course


def class_of(n: int) -> dict[str, dict]:
    release = REPO / "release" / "ps1_operators" / "ps1_operators.ipynb"
    return {f"s{i:03d}": notebook_with(b, release) for i, b in enumerate(independent_bodies(n))}


def test_planted_pair_flagged_and_only_it(tmp_path: Path) -> None:
    release = REPO / "release" / "ps1_operators" / "ps1_operators.ipynb"
    bodies = independent_bodies(20)
    students = {f"s{i:03d}": notebook_with(b, release) for i, b in enumerate(bodies)}
    copied = planted_copy(bodies[7])
    swapped = [gid for gid in copied if copied[gid][-1].startswith("self.") and bodies[7][gid][-1].startswith("other.")]
    assert len(swapped) == 2 and copied != bodies[7]  # add and mul: lines reordered, variables renamed
    students["copier"] = notebook_with(copied, release)
    students["broken"] = "{not json"
    course = make_course(tmp_path, students)
    result = similarity_report(course, "ps1_operators")
    assert [(p.a, p.b) for p in result.pairs] == [("copier", "s007")], result.pairs
    assert result.compared == 21
    assert "broken" in result.not_compared and "not valid notebook JSON" in result.not_compared["broken"]
    data = json.loads(result.json_path.read_text())
    assert data["pairs"][0]["a"] == "copier" and "never changes a grade" in data["note"]


def test_independent_twenty_not_flagged(tmp_path: Path) -> None:
    course = make_course(tmp_path, class_of(20))
    result = similarity_report(course, "ps1_operators")
    assert result.pairs == []
    assert result.compared == 20


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)


def test_hostile_code_escaped(tmp_path: Path) -> None:
    release = REPO / "release" / "ps1_operators" / "ps1_operators.ipynb"
    evil = ["x = '</pre></textarea><script>alert(1)</script><img src=x onerror=alert(2)>'",
            "self.grad += out.grad", "other.grad += out.grad"]
    bodies = {"add_solution": evil, "mul_solution": STYLES["mul_solution"][0],
              "pow_solution": STYLES["pow_solution"][0]}
    course = make_course(tmp_path, {"evil": notebook_with(bodies, release),
                                    "twin": notebook_with(bodies, release)})
    result = similarity_report(course, "ps1_operators")
    page = result.html_path.read_text()
    scan = _Scan()
    scan.feed(page)
    assert "script" not in scan.tags and "img" not in scan.tags and "textarea" not in scan.tags
    assert "&lt;script&gt;" in page and "Content-Security-Policy" in page
    assert "never changes a grade" in page


def test_cli(tmp_path: Path, capsys) -> None:
    from autograder.cli import main

    course = make_course(tmp_path, class_of(3))
    (course / "nbgrader_config.py").write_text("")
    assert main(["similarity", "ps1_operators", "--course", str(course), "--threshold", "0.9"]) == 0
    assert "3 compared, 0 pair(s) at or above 90%" in capsys.readouterr().out
    assert (course / "reports" / "similarity" / "ps1_operators.json").exists()
    assert main(["similarity", "nope", "--course", str(course)]) == 2


def test_every_copy_flagged_stub_only_not_compared(tmp_path: Path) -> None:
    release = REPO / "release" / "ps1_operators" / "ps1_operators.ipynb"
    bodies = independent_bodies(20)
    students = {f"s{i:03d}": notebook_with(b, release) for i, b in enumerate(bodies)}
    students.update({f"copy{i:03d}": notebook_with(planted_copy(b), release) for i, b in enumerate(bodies)})
    students["idle"] = json.loads(release.read_text(encoding="utf-8"))  # the stub as released: nothing written
    course = make_course(tmp_path, students)
    result = similarity_report(course, "ps1_operators")
    copies = {(p.a, p.b) for p in result.pairs if p.a[4:] == p.b[1:]}
    assert copies == {(f"copy{i:03d}", f"s{i:03d}") for i in range(20)}
    assert not [p for p in result.pairs if not p.a.startswith("copy") and not p.b.startswith("copy")]
    assert result.not_compared == {"idle": "no code written in the solution cells"}
