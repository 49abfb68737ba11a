"""Benchmark ``zengrad-kit grade`` against stock ``nbgrader autograde`` on one synthetic class.

    python benchmarks/grading.py                 # 40 students x every assignment in source/
    python benchmarks/grading.py --students 10   # a quicker run

Builds the course once (``generate_assignment`` for every assignment in
``source/``), synthesizes a class of honest-but-imperfect students (perfect,
stubs, partial answers, the classic bugs of ``autograder.mutants``; the
deliberately hostile notebooks of the demo are left out because their cost is
the configured time limits, the same in both), then grades it in separate
fresh copies of the course:

1. stock: ``nbgrader autograde ASSIGNMENT`` for each assignment, serially;
2. ``zengrad-kit grade --no-feedback`` (autograde only, like stock);
3. the same with ``--Sandbox.backend=none`` (the sandbox's cost);
4. ``zengrad-kit grade`` (autograde + feedback HTML + reports + CSV);
5. with ``--scheduler``: ``zengrad-kit grade --no-feedback`` on a Dask cluster.

Wall seconds include process start-up. CPU seconds come from the machine's own counters (run it
on a quiet machine; the load before the run is printed). Grades of every run must be equal. The
phases (kernel start, execution, trusted checks, kernel and worker CPU) come from what the course's
preprocessors record in every autograded notebook (``metadata.zengrad.timings``).
Prints a Markdown table (the one in ``benchmarks/README.md``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

def machine_cpu() -> float:
    """CPU seconds the whole machine has spent so far (user + nice + system, every core), from /proc/stat.

    Jailed kernels and workers are killed with their sandbox rather than reaped by the grader, so
    the grader's rusage misses them; the machine's own counter does not. Run on a quiet machine:
    anything else running is counted too (the load before the run is reported).
    """
    with open("/proc/stat") as fh:
        fields = fh.readline().split()[1:]
    user, nice, system = (int(x) for x in fields[:3])
    return (user + nice + system) / os.sysconf("SC_CLK_TCK")


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = str(Path(sys.executable).parent) + os.pathsep + e.get("PATH", "")
    return e


def build_template(dest: Path, students: int) -> list[str]:
    """The generated course plus ``students`` submissions per assignment."""
    from autograder import demo

    assignments = demo.build_course(dest)
    honest = [r for r in demo.roles() if r.expect in ("full", "zero", "partial")]
    mutants = __import__("autograder.mutants", fromlist=["catalogue"]).catalogue()
    import nbformat

    for i in range(students):
        role = honest[i % len(honest)]
        student = f"student{i + 1:02d}-{role.name}"
        for assignment in assignments:
            folder = dest / "submitted" / student / assignment
            folder.mkdir(parents=True)
            for helper in (dest / "release" / assignment).iterdir():
                if helper.is_file() and helper.suffix != ".ipynb":
                    shutil.copy(helper, folder)
            for nb_path in sorted((dest / "solutions" / assignment).glob("*.ipynb")):
                sol = nbformat.read(nb_path, as_version=4)
                rel = nbformat.read(dest / "release" / assignment / nb_path.name, as_version=4)
                nbformat.write(role.make(sol, rel, list(mutants.get(assignment, {}).values())), folder / nb_path.name)
            (folder / "timestamp.txt").write_text(demo.TIMESTAMP)
    return assignments


def grades(course: Path) -> dict[tuple[str, str, str], float]:
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for a in gb.assignments:
            for sub in a.submissions:
                for nb in sub.notebooks:
                    for g in nb.grades:
                        out[(a.name, sub.student.id, g.name)] = g.score
    return out


def phase_timings(course: Path) -> dict[str, float]:
    """Sum of ``metadata.zengrad.timings`` over every autograded notebook of a course."""
    import nbformat

    from autograder.preprocessors import metadata as zm

    total: dict[str, float] = {}
    for path in (course / "autograded").rglob("*.ipynb"):
        for key, value in nbformat.read(path, as_version=4).metadata.get(zm.NAMESPACE, {}).get(zm.TIMINGS, {}).items():
            total[key] = total.get(key, 0.0) + float(value)
    return total


def run_stock(course: Path, assignments: list[str]) -> tuple[float, dict[str, float]]:
    start = time.perf_counter()
    for assignment in assignments:
        proc = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", assignment, "--force",
                               "--log-level=WARN"], cwd=course, env=env(), capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"stock autograde failed for {assignment}")
    return time.perf_counter() - start, phase_timings(course)


def run_zengrad(course: Path, extra: list[str]) -> tuple[float, dict[str, float]]:
    args = [sys.executable, "-m", "autograder.cli", "grade", "--no-progress", *extra]
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=course, env=env(), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):  # 1: some submissions ended in an explicit error (e.g. a hanging bug)
        print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"zengrad-kit grade exited {proc.returncode}")
    return seconds, phase_timings(course)


class LocalCluster:
    """A Dask scheduler and ``n`` single-threaded workers as separate processes on 127.0.0.1 (dask's own CLI)."""

    def __init__(self, n: int, folder: Path) -> None:
        import json

        folder.mkdir(parents=True, exist_ok=True)
        scheduler_file = folder / "scheduler.json"
        self.procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
                                        "127.0.0.1", "--port", "0", "--dashboard-address", ":0", "--scheduler-file",
                                        str(scheduler_file)], cwd=folder, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)]
        while not scheduler_file.exists():
            time.sleep(0.1)
        self.address = json.loads(scheduler_file.read_text())["address"]
        for i in range(n):
            self.procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", self.address,
                                                "--nthreads", "1", "--no-nanny", "--local-directory",
                                                str(folder / f"w{i}")], cwd=folder, stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(self.address, timeout="30s") as client:
            client.wait_for_workers(n, timeout=120)

    def close(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()


def breakdown(timers: dict[str, float], n: int) -> str:
    """Seconds per submission in each phase (summed over workers, so parallel phases overlap in wall time)."""
    parts = {"kernel start": timers.get("kernel_start", 0.0), "execution": timers.get("execute", 0.0),
             "checks": timers.get("checks", 0.0), "kernel CPU": timers.get("kernel_cpu", 0.0),
             "worker CPU": timers.get("worker_cpu", 0.0)}
    return ", ".join(f"{name} {v / n:.2f}" for name, v in parts.items())


RUNS = {  # label -> (description, zengrad-kit grade arguments; None: stock nbgrader)
    "stock": ("stock `nbgrader autograde` (serial)", None),
    "zengrad": ("`zengrad-kit grade --no-feedback`", ["--no-feedback"]),
    "zengrad-nosandbox": ("same, `Sandbox.backend = none` (for the sandbox's cost)",
                          ["--no-feedback", "--Sandbox.backend=none"]),
    "zengrad-full": ("`zengrad-kit grade` (+ feedback, reports, CSV)", []),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--workers", type=int, default=None, help="zengrad-kit workers (default: its default)")
    parser.add_argument("--runs", default="stock,zengrad,zengrad-nosandbox,zengrad-full",
                        help=f"comma-separated, from {', '.join(RUNS)} (and dask, with --scheduler)")
    parser.add_argument("--scheduler", default=None, metavar="local|tcp://HOST:PORT",
                        help="also grade on a Dask cluster: 'local' starts a scheduler and two workers here")
    parser.add_argument("--keep", action="store_true", help="keep the course copies")
    args = parser.parse_args()
    os.environ["PATH"] = env()["PATH"]
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="zengrad-bench-"))
    template = work / "template"
    t0 = time.perf_counter()
    assignments = build_template(template, args.students)
    n = args.students * len(assignments)
    print(f"built a class of {args.students} students x {len(assignments)} assignments ({', '.join(assignments)}) "
          f"= {n} submissions in {time.perf_counter() - t0:.0f} s; {os.cpu_count()} cores", flush=True)
    labels = [label for label in args.runs.split(",") if label]
    cluster = None
    if args.scheduler:
        if "dask" not in labels:
            labels.append("dask")
        if args.scheduler == "local":
            cluster = LocalCluster(2, work / "dask-cluster")  # not work / "dask": the run's course copy
    worker_args = ["--workers", str(args.workers)] if args.workers else []
    rows = []
    copies = {}
    try:
        for label in labels:
            copies[label] = work / label
            shutil.copytree(template, copies[label])
            cpu0 = machine_cpu()
            if label == "stock":
                seconds, timers = run_stock(copies[label], assignments)
            elif label == "dask":
                address = cluster.address if cluster else args.scheduler
                seconds, timers = run_zengrad(copies[label], ["--no-feedback", "--scheduler", address])
            else:
                seconds, timers = run_zengrad(copies[label], [*RUNS[label][1], *worker_args])
            cpu = machine_cpu() - cpu0
            rows.append((label, seconds, timers, cpu))
            print(f"{label}: {seconds:.1f} s ({seconds / n:.2f} s per submission, {cpu / n:.2f} CPU s per "
                  "submission)", flush=True)
    finally:
        if cluster is not None:
            cluster.close()
    reference = grades(copies[labels[0]])
    same = all(grades(copies[label]) == reference for label in labels)
    stock_s = dict((r[0], r[1]) for r in rows).get("stock", rows[0][1])
    from autograder.grading.pool import default_workers

    workers = args.workers or default_workers()
    lines = [f"Class: {args.students} students x {len(assignments)} assignments = {n} submissions; "
             f"{os.cpu_count()} cores; zengrad-kit workers: {workers}. Grades identical in every run: {same}.", "",
             "| run | wall s | s / submission | speed-up vs stock | CPU s / submission | "
             "phases, s per submission (summed over workers) |",
             "|---|---:|---:|---:|---:|---|"]
    names = {label: RUNS[label][0] for label in RUNS} | {"dask": "`zengrad-kit grade --no-feedback --scheduler` "
                                                                "(2 local Dask workers)"}
    for label, seconds, timers, cpu in rows:
        lines.append(f"| {names[label]} | {seconds:.1f} | {seconds / n:.2f} | {stock_s / seconds:.2f}x | "
                     f"{cpu / n:.2f} | {breakdown(timers, n)} |")
    by = {r[0]: r for r in rows}
    if "zengrad" in by and "zengrad-nosandbox" in by:
        cost = by["zengrad"][1] / by["zengrad-nosandbox"][1] - 1
        cpu_cost = by["zengrad"][3] / by["zengrad-nosandbox"][3] - 1
        lines.append(f"\nThe sandbox's cost: {cost:+.1%} wall time, {cpu_cost:+.1%} CPU time per submission "
                     f"({(by['zengrad'][1] - by['zengrad-nosandbox'][1]) / n * 1000:+.0f} ms each).")
    if "zengrad" in by and "dask" in by:
        ratio = by["zengrad"][1] / by["dask"][1]
        overhead = (by["dask"][1] - by["zengrad"][1]) / n * 1000
        lines.append(f"Dask cluster (2 workers) vs the local pool ({workers} workers): throughput {ratio:.2f}x, "
                     f"{overhead:+.0f} ms per task.")
    if "zengrad" in by and "zengrad-full" in by:
        lines.append(f"Feedback, reports and CSV cost {by['zengrad-full'][1] / by['zengrad'][1] - 1:+.1%} on top.")
    lines += ["", f"Machine load before the run (1/5/15 min): {load_before[0]:.2f} / {load_before[1]:.2f} / "
              f"{load_before[2]:.2f} on {os.cpu_count()} cores."]
    table = "\n".join(lines)
    print()
    print(table)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("courses kept in", work)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
