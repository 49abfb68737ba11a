"""``zengrad-kit``: grade a class, run the demo, regenerate the release, start a new assignment, validate a notebook,
grades into an LMS, flag similar solution code for a human to review.

Exit statuses (all commands):
  0  success (grade: every submission graded cleanly; integrity flags do not count)
  1  grade: at least one submission ended in an explicit error; validate: the notebook fails;
     release --check: release/ or solutions/ differ from what is committed
  2  usage error: bad arguments, not a course directory, unknown assignment
  3  internal error: the grader failed (e.g. a gradebook write could not be verified)
  4  grade/demo: the sandbox cannot start (bubblewrap missing or not allowed); nothing was graded
  5  grade/serve: other users can read the course's secrets and its exchange is shared; nothing was done
     (doctor: exit 1 when something would leak or break grading)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from autograder.grading.config import OVERRIDE, Overrides
from autograder.hub.commands import add_parsers as add_hub_parsers
from autograder.hub.commands import before_grading
from autograder.results import outcomes as oc
from autograder.sandbox.backends import BACKENDS, DEFAULT_BACKEND, Unjailed


def _env() -> None:
    """nbgrader shells out to ``alembic``: put this interpreter's bin directory on PATH."""
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def find_course(explicit: str | None) -> Path:
    """--course, else the working directory if it is a course, else the checkout the package lives in."""
    from autograder.release import course_root

    if explicit:
        path = Path(explicit).resolve()
        if not (path / "nbgrader_config.py").exists():
            raise SystemExit(_usage(f"{path} is not a course directory (no nbgrader_config.py)"))
        return path
    for path in (Path.cwd(), course_root()):
        if (path / "nbgrader_config.py").exists():
            return path.resolve()
    raise SystemExit(_usage("no course found: run in a course directory (with nbgrader_config.py) or pass --course"))


def _usage(message: str) -> int:
    print(f"zengrad-kit: error: {message}", file=sys.stderr)
    return oc.EXIT_USAGE


def _split_overrides(extra: list[str], parser: argparse.ArgumentParser) -> Overrides:
    bad = [a for a in extra if not OVERRIDE.match(a)]
    if bad:
        parser.error(f"unrecognized arguments: {' '.join(bad)} (config overrides look like --Class.trait=value)")
    return Overrides.of(extra)


def cmd_grade(args: argparse.Namespace, overrides: Overrides) -> int:
    from autograder.grading import GradeOptions, SandboxError, UsageError, grade
    from autograder.grading.cluster import ClusterError

    course = find_course(args.course)
    stop = before_grading(course, "grade", args.argv)  # as the course's owner; no leaky shared course
    if stop is not None:
        return stop
    options = GradeOptions(assignments=tuple(args.assignments or ()), students=tuple(args.student or ()),
                           workers=args.workers, overrides=overrides, job_timeout=args.job_timeout,
                           feedback=not args.no_feedback, progress=not args.no_progress,
                           scheduler=args.scheduler or os.environ.get("ZENGRAD_SCHEDULER") or None,
                           resume=args.resume)
    try:
        result = grade(course, options)
    except UsageError as exc:
        return _usage(str(exc))
    except ClusterError as exc:
        print(f"zengrad-kit: error: {exc}\nNothing was graded.", file=sys.stderr)
        return oc.EXIT_INTERNAL
    except SandboxError as exc:
        print(f"zengrad-kit: error: {exc}\nNothing was graded.", file=sys.stderr)
        return oc.EXIT_SANDBOX
    if not result.outcomes:
        print("nothing to grade: no submissions under", course / "submitted")
        return oc.EXIT_OK
    print((course / "reports" / "summary.md").read_text())
    errors = [o for o in result.outcomes if o.status == oc.ERROR]
    print(f"graded {len(result.outcomes)} submissions in {result.seconds:.1f} s on {result.workers} workers: "
          f"{len(result.outcomes) - len(errors)} graded, {len(errors)} errors; reports in {course / 'reports'}")
    if not result.verified:
        print("gradebook verification FAILED:\n  " + "\n  ".join(map(str, result.problems)), file=sys.stderr)
    return result.exit_code


def cmd_demo(args: argparse.Namespace, overrides: Overrides) -> int:
    from autograder.demo import DemoError, run_demo
    from autograder.grading import SandboxError

    try:
        code, _ = run_demo(Path(args.dir) if args.dir else None, args.workers, args.quick, overrides,
                           progress=not args.no_progress, only=args.assignment)
    except DemoError as exc:
        return _usage(str(exc))
    except SandboxError as exc:
        print(f"zengrad-kit: error: {exc}\nNothing was graded.", file=sys.stderr)
        return oc.EXIT_SANDBOX
    return code


def cmd_release(args: argparse.Namespace, overrides: Overrides) -> int:
    from autograder.release import assignments, register, release

    course = find_course(args.course)
    known = assignments(course)
    unknown = [a for a in args.assignments if a not in known]
    if unknown:
        return _usage(f"unknown assignment(s): {', '.join(unknown)}")
    diffs = release(course, check_only=args.check, only=args.assignments or None)
    problems = [] if args.check else register(course, args.assignments or known)
    for problem in problems:
        print(f"not registered in the gradebook: {problem}", file=sys.stderr)
    if args.check:
        if diffs:
            print("release/ and solutions/ differ from a fresh release:")
            print("\n".join(f"  {d}" for d in diffs))
            print("run `zengrad-kit release` to regenerate them")
            return 1
        print("release/ and solutions/ are up to date")
        return oc.EXIT_OK
    print("regenerated release/ and solutions/" + (f"; changed: {', '.join(diffs)}" if diffs else " (no changes)")
          + ("" if problems else "; registered in the gradebook"))
    return 1 if problems else oc.EXIT_OK


def cmd_new(args: argparse.Namespace, overrides: Overrides) -> int:
    """A new assignment from the authoring template (autograder/authoring.py), released and registered."""
    from autograder.authoring import AuthoringError, new_assignment

    if overrides:
        return _usage("new takes no config overrides")
    course = find_course(args.course)
    try:
        made = new_assignment(course, args.name, title=args.title)
    except AuthoringError as exc:
        return _usage(str(exc))
    print(f"made {args.name}:\n  " + "\n  ".join(str(p.relative_to(course)) if p.is_relative_to(course) else str(p)
                                          for p in made))
    print(f"next: docs/adding-an-assignment.md; smoke test: zengrad-kit demo --quick --assignment {args.name}")
    return oc.EXIT_OK


def cmd_validate(args: argparse.Namespace, overrides: Overrides) -> int:
    """nbgrader's Validator with the course's configuration, as a student's "Validate" button runs it."""
    path = Path(args.path).resolve()
    if not path.is_file():
        return _usage(f"no such notebook: {path}")
    course = find_course(args.course)
    from nbgrader.apps.validateapp import ValidateApp
    from nbgrader.validator import Validator

    from autograder.grading.config import initialize_app

    with contextlib.chdir(course):
        app = ValidateApp()
        initialize_app(app, overrides)
        app.log.setLevel("ERROR")
    validator = Validator(parent=app)
    try:
        results = validator.validate(str(path))
    except Exception as exc:  # noqa: BLE001 - unreadable notebook, schema errors, a dead kernel
        print(f"FAIL {path.name}: could not validate: {type(exc).__name__}: {str(exc).strip()[:300]}")
        return 1
    problems = 0
    for key, label in (("type_changed", "a cell's type was changed"), ("changed", "a test cell was changed"),
                       ("failed", "failed")):
        for item in results.get(key, []):
            problems += 1
            first = item["source"].splitlines()[0] if item["source"] else ""
            print(f"FAIL ({label}): {first[:80]}")
            if item.get("raw_error"):
                print("    " + item["raw_error"].strip().replace("\n", "\n    ")[-1200:])
    if problems:
        print(f"FAIL {path.name}: {problems} cell(s) did not pass")
        return 1
    print(f"PASS {path.name}: every test cell passed")
    return oc.EXIT_OK


def cmd_gradescope(args: argparse.Namespace, overrides: Overrides) -> int:
    """Build a Gradescope autograder zip for one assignment (see autograder/gradescope/)."""
    from autograder.gradescope import BundleError, build_bundle, unsafe_warning
    from autograder.sandbox.backends import backend_named

    course = find_course(args.course)
    try:
        config = build_bundle(course, args.assignment, Path(args.output), visibility=args.visibility,
                              sandbox=args.sandbox, time_limit=args.time_limit, overrides=overrides)
    except BundleError as exc:
        return _usage(str(exc))
    if not backend_named(args.sandbox).jailed:
        print(f"WARNING: this bundle grades WITHOUT the sandbox (--sandbox {args.sandbox}): {unsafe_warning()}; "
              "every results.json says so", file=sys.stderr)
    print(f"wrote {args.output}: {args.assignment}, cells visible {config['visibility']}, sandbox {config['sandbox']}, "
          f"grading code {config['fingerprint']}; set the assignment's autograder timeout in Gradescope to at least "
          f"{config['time_limit']} s")
    return oc.EXIT_OK


def cmd_serve(args: argparse.Namespace, overrides: Overrides) -> int:
    """The submit-time grading service (see autograder/service/service.py)."""
    from autograder.grading.cluster import ClusterError
    from autograder.sandbox.backends import SandboxUnavailable
    from autograder.service import ServiceError, serve

    course = find_course(args.course)
    stop = before_grading(course, "serve", args.argv)
    if stop is not None:
        return stop
    try:
        serve(course, overrides, scheduler=args.scheduler or os.environ.get("ZENGRAD_SCHEDULER") or None,
              workers=args.workers, until_idle=args.until_idle)
    except ServiceError as exc:
        print(f"zengrad-kit: error: {exc}", file=sys.stderr)
        return oc.EXIT_SANDBOX if isinstance(exc, SandboxUnavailable) else oc.EXIT_USAGE
    except ClusterError as exc:
        print(f"zengrad-kit: error: {exc}", file=sys.stderr)
        return oc.EXIT_INTERNAL
    return oc.EXIT_OK


def cmd_lms(args: argparse.Namespace, overrides: Overrides) -> int:
    """Write an LMS gradebook CSV (Canvas, Moodle, Brightspace) matched against the LMS's own export."""
    from autograder.results.lms import LmsError, export_lms, parse_items, summary

    if overrides:
        return _usage("lms takes no config overrides")
    if args.lms == "canvas-push":
        return cmd_canvas_push(args)
    if not args.roster:
        return _usage(f"lms {args.lms} needs --roster ROSTER.csv (the gradebook export of your {args.lms} course)")
    course = find_course(args.course)
    try:
        result = export_lms(course, args.lms, Path(args.roster), Path(args.output) if args.output else None,
                            args.assignments or None, args.match_key, parse_items(args.item), args.errors,
                            args.missing)
    except LmsError as exc:
        return _usage(str(exc))
    print(summary(result))
    if result.path is None:
        return 1
    return 1 if result.serious else oc.EXIT_OK


def cmd_canvas_push(args: argparse.Namespace) -> int:
    """Push scores to a Canvas course through its API (autograder/results/canvas_push.py)."""
    from autograder.results.canvas_push import CanvasPushError, push_summary, push_to_canvas
    from autograder.results.lms import LmsError, parse_items

    if not args.url or args.course_id is None:
        return _usage("lms canvas-push needs --url URL and --course-id ID")
    token = os.environ.get(args.token_env, "")
    if not token:
        return _usage(f"${args.token_env} is empty: put a Canvas API token in it (or name another variable with "
                      "--token-env)")
    course = find_course(args.course)
    try:
        result = push_to_canvas(course, args.url, token, args.course_id, args.assignments or None,
                                match_key=args.match_key or "login_id", items=parse_items(args.item),
                                missing=args.missing, dry_run=args.dry_run)
    except LmsError as exc:
        return _usage(str(exc))
    except CanvasPushError as exc:
        print(f"zengrad-kit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(push_summary(result))
    return 1 if result.serious or not result.verified else oc.EXIT_OK


def cmd_similarity(args: argparse.Namespace, overrides: Overrides) -> int:
    """Write reports/similarity/<assignment>.html and .json (autograder/results/similarity.py); no grade changes."""
    from autograder.results.similarity import THRESHOLD, similarity_report

    if overrides:
        return _usage("similarity takes no config overrides")
    course = find_course(args.course)
    if not (course / "release" / args.assignment).is_dir():
        return _usage(f"no release/{args.assignment}/ in {course}")
    try:
        result = similarity_report(course, args.assignment,
                                    THRESHOLD if args.threshold is None else args.threshold)
    except ValueError as exc:
        return _usage(str(exc))
    print(f"{result.compared} compared, {len(result.pairs)} pair(s) at or above {result.threshold:.0%}, "
          f"{len(result.not_compared)} not compared, {result.seconds:.1f} s: {result.html_path} "
          "(evidence for a human to review; no grade was changed)")
    return oc.EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zengrad-kit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("grade", help="autograde every submission in parallel, with reports",
                       description="Autograde submitted/ with nbgrader's pipeline in parallel workers. "
                                   "Extra --Class.trait=value arguments override nbgrader_config.py "
                                   "(e.g. --GuardedExecute.cell_cpu_seconds=10 --GuardedExecute.memory_limit_mb=2048).")
    g.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: every assignment in source/")
    g.add_argument("--course", help="course directory (default: the working directory, else the checkout)")
    g.add_argument("--student", action="append", help="grade only this student (repeatable)")
    g.add_argument("--workers", type=int, default=None, help="worker processes (default: number of cores)")
    g.add_argument("--job-timeout", type=float, default=None,
                   help="wall-clock backstop per submission before its worker is killed "
                        "(default: GuardedExecute.notebook_timeout + 2 * TrustedChecks.cpu_seconds + 120)")
    g.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="grade on this Dask cluster instead of local worker processes (default: $ZENGRAD_SCHEDULER; "
                        "needs zengrad-kit[cluster] here and on every worker)")
    g.add_argument("--resume", action="store_true",
                   help="keep the outcomes of an earlier (e.g. interrupted) run whose submissions did not change and "
                        "whose gradebook rows verify; grade only the rest")
    g.add_argument("--no-feedback", action="store_true", help="skip feedback HTML")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.set_defaults(func=cmd_grade)

    d = sub.add_parser("demo", help="synthesize a class in a throwaway course and grade it end to end")
    d.add_argument("--dir", help="an empty directory for the demo course (default: a new temp directory)")
    d.add_argument("--workers", type=int, default=None)
    d.add_argument("--quick", action="store_true", help="one student per kind instead of about 30")
    d.add_argument("--assignment", action="append", help="only this assignment (repeatable; default: all)")
    d.add_argument("--no-progress", action="store_true")
    d.set_defaults(func=cmd_demo)

    r = sub.add_parser("release", help="regenerate release/ and solutions/ (or --check them)")
    r.add_argument("assignments", nargs="*", metavar="ASSIGNMENT")
    r.add_argument("--check", action="store_true", help="write nothing; exit 1 and list differences")
    r.add_argument("--course")
    r.set_defaults(func=cmd_release)

    n = sub.add_parser("new", help="a new assignment from the template: notebook, checks, mutants; released "
                                   "and registered in the gradebook")
    n.add_argument("name", metavar="NAME", help="e.g. ps5_trig (its prefix, ps5, names its checks)")
    n.add_argument("--title", default="a new operator and a function", help="the notebook's title")
    n.add_argument("--course")
    n.set_defaults(func=cmd_new)

    v = sub.add_parser("validate", help="validate one notebook as a student would")
    v.add_argument("path", metavar="PATH")
    v.add_argument("--course")
    v.set_defaults(func=cmd_validate)

    s = sub.add_parser("gradescope", help="build a Gradescope autograder zip for one assignment",
                       description="Build a Gradescope autograder (setup.sh, run_autograder, this zengrad-kit and the "
                                   "assignment's source) that grades each submission with the pipeline and sandbox of "
                                   "`zengrad-kit grade`. Extra --Class.trait=value arguments are bundled as overrides.")
    s.add_argument("assignment", metavar="ASSIGNMENT")
    s.add_argument("-o", "--output", default="autograder.zip", help="the zip to write (default: autograder.zip)")
    s.add_argument("--visibility", choices=["after_due_date", "visible", "hidden", "after_published"],
                   default="after_due_date",
                   help="when students see each cell's score and verdict, and their total (default: after_due_date); "
                        "whether the notebook arrived and was graded is always visible at once")
    s.add_argument("--sandbox", choices=list(BACKENDS), default=DEFAULT_BACKEND,
                   help=f"'{Unjailed.name}' grades without the sandbox: unsafe, stated in every results.json "
                        f"(default: {DEFAULT_BACKEND})")
    s.add_argument("--time-limit", type=int, default=600, metavar="SECONDS",
                   help="the assignment's autograder timeout in Gradescope (default: 600, Gradescope's default); a "
                        "submission still grading shortly before it gets an explicit error result")
    s.add_argument("--course")
    s.set_defaults(func=cmd_gradescope)

    sv = sub.add_parser("serve", help="grade every nbgrader submit as it arrives; students fetch the feedback",
                        description="Watch the exchange's inbound/, grade each new submission with the pipeline and "
                                    "sandbox of `zengrad-kit grade` (in a private course: the gradebook is never "
                                    "written) and release its feedback, which students get with Fetch Feedback. "
                                    "Rate limits and visibility: c.GradingService in nbgrader_config.py. State: "
                                    "<course>/service/ (restartable; kill -9 safe).")
    sv.add_argument("--course")
    sv.add_argument("--workers", type=int, default=None, help="grading processes (default: GradingService.workers, "
                                                              "else one per core)")
    sv.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="grade on this Dask cluster (default: "
                                                                    "$ZENGRAD_SCHEDULER; workers: --nthreads 1)")
    sv.add_argument("--until-idle", action="store_true",
                    help="handle what is in inbound/ now, then exit (a cron job, the demo)")
    sv.set_defaults(func=cmd_serve)

    lms = sub.add_parser("lms", help="grades into Canvas, Moodle or Brightspace (import CSV, or a push to Canvas)",
                         description="Write a gradebook CSV in the import format of an LMS, matching students by an "
                                     "export of that LMS's gradebook (--roster), or push scores to Canvas through its "
                                     "API (canvas-push). Scores are those of `nbgrader export` (after late penalties). "
                                     "An errored submission is never a 0: its cell is left empty and listed; students "
                                     "unmatched either way are listed in OUT.problems.csv. Exit 1 when that list has "
                                     "errors or unmatched students.")
    lms.add_argument("lms", choices=["canvas", "moodle", "brightspace", "canvas-push"])
    lms.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: every assignment in the gradebook")
    lms.add_argument("--roster", metavar="ROSTER.csv", help="the LMS's gradebook export (canvas, moodle, brightspace)")
    lms.add_argument("-o", "--output", metavar="OUT.csv", help="default: reports/<lms>-grades.csv in the course")
    lms.add_argument("--match-key", metavar="COLUMN",
                     help="roster column (canvas-push: Canvas user field) matched against the nbgrader student id, "
                          "case-insensitive (defaults: canvas 'SIS Login ID', moodle 'Username' else 'Email "
                          "address', brightspace 'Username'; canvas-push 'login_id')")
    lms.add_argument("--item", action="append", metavar="ASSIGNMENT=COLUMN",
                     help="the LMS column (canvas-push: assignment id or name) for an nbgrader assignment "
                          "(default: the column whose item name is the assignment's name)")
    lms.add_argument("--errors", choices=["blank", "omit-row", "fail"], default="blank",
                     help="an errored submission: empty cell (default), leave the student's row out, or write "
                          "nothing and exit 1")
    lms.add_argument("--missing", choices=["blank", "zero"], default="blank",
                     help="no submission / no nbgrader record: empty cell (default) or 0")
    lms.add_argument("--course")
    lms.add_argument("--url", help="canvas-push: the Canvas base URL, e.g. https://canvas.example.edu")
    lms.add_argument("--token-env", default="CANVAS_API_TOKEN", metavar="VAR",
                     help="canvas-push: the environment variable holding the API token (default: CANVAS_API_TOKEN)")
    lms.add_argument("--course-id", type=int, help="canvas-push: the Canvas course id")
    lms.add_argument("--dry-run", action="store_true", help="canvas-push: read Canvas, change nothing, list changes")
    lms.set_defaults(func=cmd_lms)

    sim = sub.add_parser("similarity", help="flag pairs of similar solution code, for a human to review",
                         description="Compare what each student wrote in the solution cells of ASSIGNMENT (the "
                                     "released stub and the given code excluded) with copydetect, and write "
                                     "reports/similarity/ASSIGNMENT.html and .json with the pairs at or above the "
                                     "threshold. Evidence for a human to review: never changes a grade.")
    sim.add_argument("assignment", metavar="ASSIGNMENT")
    sim.add_argument("--threshold", type=float, default=None,
                     help="report a pair when both students' matched share is at least this (default: 0.7)")
    sim.add_argument("--course")
    sim.set_defaults(func=cmd_similarity)
    add_hub_parsers(sub, find_course)  # hub setup, doctor (autograder/hub/)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``zengrad-kit`` console script."""
    _env()
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args, extra = parser.parse_known_args(argv)
    args.argv = argv  # grade/serve started as root re-run themselves as the course's owner
    if args.command == "lms":  # argparse leaves ASSIGNMENTs given after an option over: take them back
        args.assignments += [a for a in extra if not a.startswith("-")]
        extra = [a for a in extra if a.startswith("-")]
    overrides = _split_overrides(extra, parser)
    if overrides and args.command == "release":
        parser.error("release takes no config overrides")
    try:
        return args.func(args, overrides)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else oc.EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001 - an internal error gets its own exit status
        import traceback

        traceback.print_exc()
        return oc.EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
