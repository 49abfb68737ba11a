"""Benchmark ``zengrad-kit serve`` under contention: three students at once, and busy loops in the queue.

    python benchmarks/service_contention.py              # 5 rounds of three students, then the busy loops
    python benchmarks/service_contention.py --rounds 2   # quicker

A fresh course, its own exchange, and the service (the real CLI, one worker per core, default
budgets) started *before* the instructor releases ps1, as on a hub that starts it with the hub:
with ``rescan_seconds`` at 10 minutes, only the inotify watcher that moves onto ``inbound/`` when the
release makes it lets the service see a submission. Students submit with nbgrader's exchange
classes (what the Assignment List's *Submit* runs). Latency runs from the end of ``submit`` to
the moment the submission's final page (not its waiting page) is in the exchange's ``feedback/``.

1. **three at once**: ``--rounds`` times, three students submit together (perfect work, stubs and
   a classic bug, in turn) and the next round starts when all three have their feedback;
2. **busy loops**: two students submit a notebook whose ``mul`` cell never ends (``while True:
   pass``), then a third student submits honest work: when does the third get feedback, what did
   its waiting page promise, and when are the two loops set aside (their pages)?

Goals (issue 34, on the 2-core machine): three at once p50 <= 15 s; the third student's first
feedback behind two busy loops <= 60 s. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.service import PS1, env, notebooks  # noqa: E402 - after the path

LOOP = "\nwhile True:  # never ends\n    pass\n"


def page_of(exchange: Path, inbound_name: str) -> str | None:
    """The exchange's page of a submission (waiting or final), or None."""
    from nbgrader.utils import notebook_hash

    secret = (exchange / "zengrad" / "inbound" / inbound_name / "submission_secret.txt").read_text()
    path = exchange / "zengrad" / "feedback" / f"{notebook_hash(secret=secret, notebook_id=PS1)}.html"
    try:
        return path.read_text()
    except OSError:
        return None


def kind(text: str | None) -> str:
    found = re.search(r'data-kind="([a-z-]+)"', text or "")
    return found.group(1) if found else ""


def wait_final(exchange: Path, submitted: dict[str, float], timeout: float = 900) -> dict[str, tuple[float, str]]:
    """inbound name -> (seconds from its submit to its final page, the page's kind)."""
    done: dict[str, tuple[float, str]] = {}
    end = time.monotonic() + timeout
    while len(done) < len(submitted) and time.monotonic() < end:
        for name, at in submitted.items():
            if name not in done:
                k = kind(page_of(exchange, name))
                if k and k != "waiting":
                    done[name] = (time.monotonic() - at, k)
        time.sleep(0.05)
    missing = set(submitted) - set(done)
    if missing:
        raise SystemExit(f"no final page within {timeout} s for {sorted(missing)}")
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()

    from autograder.service.student import Student
    from tests.course_helpers import cell, solution_nb

    load = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="zengrad-bench-contention-"))
    for var, sub in (("IPYTHONDIR", "ipython"), ("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data")):
        os.environ[var] = str(work / "jupyter" / sub)
    exchange = work / "exchange"
    os.environ.update(env(exchange))
    course_dir = work / "course"
    course_dir.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", course_dir)
    shutil.copytree(REPO / "source" / PS1, course_dir / "source" / PS1)
    subprocess.run(["nbgrader", "generate_assignment", PS1, "--force", "--log-level=WARN"], cwd=course_dir,
                   check=True, env=env(exchange))
    cmd = ["zengrad-kit", "serve", "--course", str(course_dir), "--GradingService.feedbacks_per_window=1000",
           "--GradingService.rescan_seconds=600"]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    log_path = work / "serve.log"
    log = open(log_path, "w")  # noqa: SIM115
    service = subprocess.Popen(cmd, env=env(exchange), stdout=log, stderr=subprocess.STDOUT)
    try:
        while "serving" not in log_path.read_text():
            if service.poll() is not None:
                raise SystemExit("the service did not start:\n" + log_path.read_text())
            time.sleep(0.2)
        # the release comes after the service's start: the watcher must move onto the new inbound/
        subprocess.run(["nbgrader", "release_assignment", PS1, "--force", "--log-level=WARN"], cwd=course_dir,
                       check=True, env=env(exchange))
        nbs = notebooks(3 * args.rounds)

        three: list[float] = []
        for r in range(args.rounds):
            students = [Student(f"r{r}s{i}", work / "homes" / f"r{r}s{i}", exchange) for i in range(3)]
            for s in students:
                s.fetch(PS1)
            submitted = {s.submit(PS1, nbs[3 * r + i]): time.monotonic() for i, s in enumerate(students)}
            three += [seconds for seconds, _ in wait_final(exchange, submitted).values()]

        looping = solution_nb(PS1)
        cell(looping, "mul_solution").source += LOOP
        loops = {}
        for i in range(2):
            s = Student(f"loop{i}", work / "homes" / f"loop{i}", exchange)
            s.fetch(PS1)
            loops[s.submit(PS1, looping)] = time.monotonic()
        time.sleep(1.0)
        third = Student("third", work / "homes" / "third", exchange)
        third.fetch(PS1)
        name = third.submit(PS1, solution_nb(PS1))
        at = time.monotonic()
        promised: list[str] = []  # each estimate its waiting page gave, with when it was read
        while time.monotonic() < at + 180:
            text = page_of(exchange, name)
            if kind(text) not in ("", "waiting"):
                break
            said = re.search(r"expected (?:wait|to be done in) about (\d+ \w+)", text or "")
            if said and (not promised or not promised[-1].endswith(said.group(1))):
                promised.append(f"+{time.monotonic() - at:.0f} s: {said.group(1)}")
            time.sleep(0.05)
        third_result = wait_final(exchange, {name: at})[name]
        loop_results = wait_final(exchange, loops)
    finally:
        service.terminate()
        service.wait(60)
        log.close()
    cpu = [float(c) for _, c in re.findall(r"\(([0-9.]+) s, ([0-9.]+) CPU s\)", log_path.read_text())]
    print(f"\nps1, {os.cpu_count()} cores, load before the run {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}, "
          f"service workers: {args.workers or 'one per core'}\n")
    print("| measurement | result | goal |")
    print("|---|---|---|")
    print(f"| three at once, submit-to-feedback p50 ({len(three)} submissions) | {statistics.median(three):.1f} s "
          "| <= 15 s |")
    print(f"| three at once, max | {max(three):.1f} s | |")
    print(f"| behind two busy loops: the third student's first feedback | {third_result[0]:.1f} s "
          f"({third_result[1]}) | <= 60 s |")
    print(f"| what its waiting page said (expected wait, as revised) | {'; '.join(promised) or '(none seen)'} | |")
    print(f"| the two busy loops: set aside after | {', '.join(f'{s:.1f} s ({k})' for s, k in loop_results.values())} "
          "| |")
    if cpu:
        print(f"| CPU seconds per graded submission: median / max | {statistics.median(cpu):.1f} / {max(cpu):.1f} "
              "| |")
    if "watching" in log_path.read_text():
        print("| watcher | on inbound/ after the release (rescan every 600 s) | |")
    if os.environ.get("KEEP"):
        print(f"\nkept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
