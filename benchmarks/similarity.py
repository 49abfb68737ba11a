"""Time the similarity report (autograder/results/similarity.py) on a synthesized class.

    python benchmarks/similarity.py            # 300 students of ps1_operators
    python benchmarks/similarity.py --students 100

Each student's notebook is the release notebook of ps1_operators with one correct style per
operator (tests/test_similarity.py STYLES), plus one planted copy (renamed variables, swapped
lines). The figure printed is the report alone: reading every notebook, subtracting the stub,
fingerprinting with copydetect, all pairs, writing the HTML and JSON.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autograder.results.similarity import similarity_report  # noqa: E402
from tests.test_similarity import REPO, independent_bodies, make_course, notebook_with, planted_copy  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=300)
    args = parser.parse_args()
    release = REPO / "release" / "ps1_operators" / "ps1_operators.ipynb"
    bodies = independent_bodies(args.students - 1)
    students = {f"s{i:03d}": notebook_with(b, release) for i, b in enumerate(bodies)}
    students["zz_copier"] = notebook_with(planted_copy(bodies[0]), release)
    with tempfile.TemporaryDirectory() as tmp:
        course = make_course(Path(tmp), students)
        result = similarity_report(course, "ps1_operators")
        flagged = sum(1 for p in result.pairs if "zz_copier" in (p.a, p.b))
        print(f"{result.compared} students, {result.compared * (result.compared - 1) // 2} pairs: "
              f"{result.seconds:.2f} s; {len(result.pairs)} pair(s) flagged, {flagged} with the planted copy")


if __name__ == "__main__":
    main()
