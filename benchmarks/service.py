"""Benchmark ``zengrad-kit serve``: submit-to-feedback latency, and throughput against batch grading.

    python benchmarks/service.py                 # 10 lone submissions, then 30 students in one minute
    python benchmarks/service.py --students 10   # quicker

In a fresh course with ps1 released to its own exchange, the service runs as the real CLI
(``zengrad-kit serve``, one worker per core). Students submit with nbgrader's exchange classes
(what the Assignment List's *Submit* runs). Latency is from the end of ``submit`` to the moment
the submission's final page (not its waiting page) is in the exchange's ``feedback/``, where
*Fetch Feedback* finds it.

1. **alone**: one student submits, waits for the feedback, submits again (``--alone`` times);
2. **rush**: ``--students`` students submit within ``--spread`` seconds (default 30 within 30 s,
   in a fixed order: perfect work, stubs and the classic bugs of ``autograder.mutants``);
3. **burst**: as many other students submit at once: the queue's throughput;
4. **batch**: the burst's files under ``submitted/`` of a fresh copy, ``zengrad-kit grade ps1_operators``
   (with feedback, as the service renders it).

The service's cost per submission is the burst's makespan (first submit to last feedback) over
the number of submissions; batch's is its wall time (process start included) over the same
number. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PS1 = "ps1_operators"


def env(exchange: Path) -> dict[str, str]:
    e = dict(os.environ, ZENGRAD_EXCHANGE=str(exchange))
    e["PATH"] = str(Path(sys.executable).parent) + os.pathsep + e.get("PATH", "")
    return e


def notebooks(n: int) -> list:
    """``n`` ps1 notebooks: perfect, stubs and every classic bug, in a fixed order."""
    from autograder.mutants import catalogue
    from tests.course_helpers import mutate, release_nb, solution_nb

    kinds = [solution_nb(PS1), release_nb(PS1)]
    for m in catalogue()[PS1].values():
        kinds.append(mutate(solution_nb(PS1), m.cell, m.old, m.new))
    return [kinds[i % len(kinds)] for i in range(n)]


def final_page(exchange: Path, inbound_name: str) -> Path | None:
    """The exchange's page of a submission once it is final (not the waiting page)."""
    from nbgrader.utils import notebook_hash

    secret = (exchange / "zengrad" / "inbound" / inbound_name / "submission_secret.txt").read_text()
    path = exchange / "zengrad" / "feedback" / f"{notebook_hash(secret=secret, notebook_id=PS1)}.html"
    try:
        text = path.read_text()
    except OSError:
        return None
    return path if 'data-kind="waiting"' not in text else None


def check(exchange: Path, submitted: dict[str, float], latency: dict[str, float]) -> None:
    """Record the latency of every submission whose final page has appeared since the last look."""
    for name, at in submitted.items():
        if name not in latency and final_page(exchange, name) is not None:
            latency[name] = time.monotonic() - at


def wait_all(exchange: Path, submitted: dict[str, float], timeout: float = 1800,
             latency: dict[str, float] | None = None) -> dict[str, float]:
    """inbound name -> seconds from its submit to its final page."""
    latency = {} if latency is None else latency
    end = time.monotonic() + timeout
    while len(latency) < len(submitted) and time.monotonic() < end:
        check(exchange, submitted, latency)
        time.sleep(0.05)
    missing = set(submitted) - set(latency)
    if missing:
        raise SystemExit(f"no feedback within {timeout} s for {len(missing)} submissions")
    return latency


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alone", type=int, default=10)
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--spread", type=float, default=30.0, help="seconds over which the rush submits")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()

    from autograder.service.student import Student

    work = Path(tempfile.mkdtemp(prefix="zengrad-bench-service-"))
    jupyter = work / "jupyter"
    for var, sub in (("IPYTHONDIR", "ipython"), ("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data")):
        os.environ[var] = str(jupyter / sub)
    exchange = work / "exchange"
    os.environ.update(env(exchange))
    course_dir = work / "course"
    course_dir.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", course_dir)
    shutil.copytree(REPO / "source" / PS1, course_dir / "source" / PS1)
    subprocess.run(["nbgrader", "generate_assignment", PS1, "--force", "--log-level=WARN"], cwd=course_dir,
                   check=True, env=env(exchange))
    batch_dir = work / "batch"
    shutil.copytree(course_dir, batch_dir)
    subprocess.run(["nbgrader", "release_assignment", PS1, "--force", "--log-level=WARN"], cwd=course_dir,
                   check=True, env=env(exchange))
    # a budget no student of the benchmark reaches: this measures grading, not the rate limit
    cmd = ["zengrad-kit", "serve", "--course", str(course_dir), "--GradingService.feedbacks_per_window=1000"]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    log = open(work / "serve.log", "w")  # noqa: SIM115
    service = subprocess.Popen(cmd, env=env(exchange), stdout=log, stderr=subprocess.STDOUT)
    try:
        while "serving" not in (work / "serve.log").read_text():
            if service.poll() is not None:
                raise SystemExit("the service did not start:\n" + (work / "serve.log").read_text())
            time.sleep(0.2)
        nbs = notebooks(args.students)

        lone = Student("lone", work / "homes" / "lone", exchange)
        alone = []
        for i in range(args.alone):
            name = lone.submit(PS1, nbs[i % len(nbs)])
            alone += wait_all(exchange, {name: time.monotonic()}).values()

        def rush(prefix: str, spread: float) -> tuple[dict[str, float], dict[str, float], float]:
            students = [Student(f"{prefix}{i:02d}", work / "homes" / f"{prefix}{i:02d}", exchange)
                        for i in range(args.students)]
            for s in students:
                s.fetch(PS1)
            submitted: dict[str, float] = {}
            latency: dict[str, float] = {}
            start = time.monotonic()
            for i, (s, nb) in enumerate(zip(students, nbs, strict=True)):
                while time.monotonic() < start + spread * i / max(1, args.students - 1):
                    check(exchange, submitted, latency)  # pages of earlier ones, as they come
                    time.sleep(0.05)
                submitted[s.submit(PS1, nb)] = time.monotonic()
            latency = wait_all(exchange, submitted, latency=latency)
            return submitted, latency, max(submitted[n] + latency[n] for n in submitted) - start

        _, latency, _ = rush("r", args.spread)
        submitted, _, makespan = rush("b", 0.0)  # a burst: the queue's throughput, workers never idle
    finally:
        service.terminate()
        service.wait(60)
        log.close()
    state = json.loads((course_dir / "service" / "status.json").read_text())

    # batch: the same files, graded after the fact
    for name in submitted:
        student = name.split("+")[0]
        src = exchange / "zengrad" / "inbound" / name
        dest = batch_dir / "submitted" / student / PS1
        dest.mkdir(parents=True)
        for f in src.iterdir():
            if f.suffix == ".ipynb" or f.name == "timestamp.txt":
                shutil.copy(f, dest / f.name)
    t0 = time.monotonic()
    subprocess.run(["zengrad-kit", "grade", PS1, "--course", str(batch_dir), "--no-progress",
                    *(["--workers", str(args.workers)] if args.workers else [])],
                   env=env(exchange), check=False, capture_output=True)
    batch = time.monotonic() - t0

    n = len(submitted)
    rush = list(latency.values())
    print(f"\nps1, {os.cpu_count()} cores, service workers: {state['workers']}\n")
    print("| measurement | result |")
    print("|---|---|")
    print(f"| alone: submit-to-feedback p50 ({len(alone)} submissions) | {statistics.median(alone):.1f} s |")
    print(f"| alone: max | {max(alone):.1f} s |")
    print(f"| rush: {n} students within {args.spread:g} s, p50 | {statistics.median(rush):.1f} s |")
    print(f"| rush: p95 | {pct(rush, 0.95):.1f} s |")
    print(f"| rush: max | {max(rush):.1f} s |")
    print(f"| burst: {n} at once, throughput | {60 * n / makespan:.1f} submissions/min (makespan {makespan:.1f} s) |")
    print(f"| service, s per submission (burst makespan / {n}) | {makespan / n:.2f} s |")
    print(f"| batch `zengrad-kit grade` of the same {n}, s per submission | {batch / n:.2f} s "
          f"(wall {batch:.1f} s) |")
    print(f"| service vs batch per submission | {makespan / batch:.2f}x |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
