"""The OS sandbox itself (real bubblewrap): what a jailed process can see, reach and do, and its limits."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from autograder.sandbox.jail import Jail, JailLimits, Sandbox, SandboxUnavailable, preflight
from autograder.sandbox.worker import Budget, Worker, WorkerLost
from tests.course_helpers import REPO


def run_jailed(code: str, files: dict[str, bytes] | None = None, limits: JailLimits | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess:
    with Jail("bwrap", limits or JailLimits(), files or {}) as jail:
        return subprocess.run(jail.command([sys.executable, "-I", "-S", "-c", textwrap.dedent(code)]),
                              capture_output=True, text=True, timeout=timeout, **jail.popen_kwargs())


def test_preflight_passes_here_and_fails_clearly_without_bubblewrap() -> None:
    preflight()
    with pytest.raises(SandboxUnavailable, match="bubblewrap .* is not installed.*apt-get install bubblewrap"):
        preflight("/no/such/bwrap")


def test_sees_its_own_files_and_nothing_of_the_grader() -> None:
    secret = REPO / "autograder" / "checks" / "ps1.py"
    out = run_jailed(f"""
        import os, sys
        sys.path.insert(0, '.')
        import helper
        print(helper.X, open('data/points.txt').read(), os.getcwd())
        for path in [{str(secret)!r}, {str(REPO / 'nbgrader_config.py')!r}, '/root/.bashrc', '/etc/shadow']:
            print(path, os.path.exists(path))
        print(sorted(k for k in os.environ if 'ZENGRAD_TEST' in k))
        print(os.getuid() != 0, os.geteuid() != 0)
    """, files={"helper.py": b"X = 41 + 1\n", "data/points.txt": b"1,2"},)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "42 1,2 /home/student"
    assert all(line.endswith("False") for line in lines[1:5]), lines
    assert lines[5] == "[]" and lines[6] == "True True"


def test_the_grading_packages_are_not_importable_even_with_site_packages() -> None:
    out = run_jailed("""
        import site, sys
        site.main()  # python -I -S inside; turn site-packages on as a student would
        for name in ('zengrad_ref.engine', 'autograder.checks.ps1', 'autograder.sandbox', 'debugpy.server'):
            try:
                __import__(name)
                print(name, 'IMPORTED')
            except ImportError:
                print(name, 'hidden')
    """)
    assert out.stdout.split() == ["zengrad_ref.engine", "hidden", "autograder.checks.ps1", "hidden",
                                  "autograder.sandbox", "hidden", "debugpy.server", "hidden"], out.stdout + out.stderr


def test_a_stray_installed_copy_of_the_grading_packages_is_masked_too(tmp_path: Path, monkeypatch) -> None:
    """Not only the copy Python imports: a stale ``pip install .`` in any site directory is hidden."""
    from autograder.sandbox import jail as jail_module
    site_dir = tmp_path / "site-packages"
    (site_dir / "autograder" / "checks").mkdir(parents=True)
    (site_dir / "autograder" / "checks" / "ps1.py").write_text("def binary_check(): ...\n")
    (site_dir / "unrelated").mkdir()
    monkeypatch.setattr(jail_module.site, "getsitepackages", lambda: [str(site_dir)])
    assert jail_module._masked([tmp_path]) == [(site_dir / "autograder").resolve()]
    assert jail_module._masked([tmp_path / "elsewhere"]) == []


def test_read_only_system_and_capped_private_home(tmp_path: Path) -> None:
    out = run_jailed("""
        import os
        for path in ('/usr/evil', '/etc/passwd', '/zengrad/seed/x'):
            try:
                open(path, 'a').write('x')
                print('WROTE', path)
            except OSError as exc:
                print('refused', exc.errno)
        try:
            with open('big.bin', 'wb') as fh:
                for _ in range(100):
                    fh.write(b'x' * (1 << 20))
            print('WROTE 100 MiB')
        except OSError as exc:
            print('full', exc.errno)
    """, limits=JailLimits(home_bytes=8 << 20, file_bytes=1 << 30))
    assert out.stdout.split() == ["refused", "30", "refused", "13", "refused", "30", "full", "28"], out.stdout
    del tmp_path


def test_no_network_even_to_a_listener_on_this_machine() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted: list[object] = []
    server.settimeout(5)

    def accept() -> None:
        try:
            accepted.append(server.accept())
        except OSError:
            pass

    thread = threading.Thread(target=accept)
    thread.start()
    out = run_jailed(f"""
        import socket
        s = socket.socket()
        s.settimeout(3)
        try:
            s.connect(('127.0.0.1', {port}))
            print('CONNECTED')
        except OSError as exc:
            print('refused')
        try:
            socket.getaddrinfo('pypi.org', 443)
            print('RESOLVED')
        except OSError:
            print('no dns')
    """)
    thread.join()
    server.close()
    assert out.stdout.split() == ["refused", "no", "dns"], out.stdout + out.stderr
    assert accepted == []


def test_processes_are_limited_jailed_and_gone_afterwards() -> None:
    marker = f"zengrad-leftover-{os.getpid()}-{time.time_ns()}"
    out = run_jailed(f"""
        import os, time, subprocess
        print('ppid', os.getppid(), 'pids', sorted(int(p) for p in os.listdir('/proc') if p.isdigit())[:3])
        try:
            os.kill({os.getpid()}, 9)  # the grader, by its real pid
            print('KILLED GRADER')
        except OSError as exc:
            print('no grader', exc.errno)
        n = 0
        try:
            for _ in range(500):
                if os.fork() == 0:
                    os.setsid()
                    time.sleep(600)
                    os._exit(0)
                n += 1
        except OSError:
            pass
        print('forked', n)
        subprocess.Popen(['/bin/sh', '-c', 'exec -a {marker} sleep 600'], start_new_session=True)
        time.sleep(0.5)
    """, limits=JailLimits(processes=32))
    words = out.stdout.split()
    assert words[0] == "ppid" and words[words.index("no") + 2] == "3", out.stdout  # ESRCH: no such process
    forked = int(words[words.index("forked") + 1])
    assert 0 < forked < 32, out.stdout
    time.sleep(0.5)
    left = [p.info for p in psutil.process_iter(["pid", "cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]
    assert left == []


def test_unprivileged_uid_without_capabilities() -> None:
    out = run_jailed("""
        status = dict(line.split(':', 1) for line in open('/proc/self/status') if ':' in line)
        print(status['Uid'].split()[0], status['CapEff'].strip(), status['CapBnd'].strip(),
              status['NoNewPrivs'].strip())
    """)
    uid, cap_eff, cap_bnd, nnp = out.stdout.split()
    assert int(uid) not in (0, os.getuid()) or os.getuid() != 0
    assert int(cap_eff, 16) == 0 and int(cap_bnd, 16) == 0 and nnp == "1"


def test_two_sandboxes_at_once_have_different_uids() -> None:
    if os.geteuid() != 0:
        pytest.skip("per-sandbox uids are used when grading as root")
    a, b = Jail("bwrap", JailLimits(), {}), Jail("bwrap", JailLimits(), {})
    try:
        assert a.uid != b.uid and min(a.uid, b.uid) >= Sandbox().uid_base
    finally:
        a.close()
        b.close()


# --- the check worker on top of the jail ----------------------------------------------------------------
def test_worker_replies_are_capped_and_read_in_linear_time() -> None:
    flood = ("import os, sys, struct\n"
             "def _flood():\n"
             "    data = b'[' + b'0,' * (12 << 20) + b'0]'\n"
             "    os.write(int(sys.argv[2]), struct.pack('>I', len(data)) + data)\n")
    with Worker({}, JailLimits(), max_reply_bytes=1 << 20) as worker:
        reply = worker.request({"cmd": "exec", "cells": [[0, flood]]}, Budget.for_cpu(10))
        assert reply["cells"][0]["ok"]
        started = time.perf_counter()
        with pytest.raises(WorkerLost) as lost:
            worker.request({"cmd": "exec", "cells": [[1, "_flood()"]]}, Budget.for_cpu(10))
        assert lost.value.reason == "protocol" and "limit" in lost.value.detail
        assert time.perf_counter() - started < 5


def test_worker_budgets_are_cpu_time_and_the_backstop_is_wall_time() -> None:
    with Worker({}, JailLimits()) as worker:
        with pytest.raises(WorkerLost) as spin:
            worker.request({"cmd": "exec", "cells": [[0, "while True:\n    pass"]]}, Budget(cpu=0.5, wall=60))
        assert spin.value.reason == "timeout"
    with Worker({}, JailLimits()) as worker:
        started = time.monotonic()
        with pytest.raises(WorkerLost) as sleeper:
            worker.request({"cmd": "exec", "cells": [[0, "import time\ntime.sleep(60)"]]}, Budget(cpu=0.5, wall=2))
        assert sleeper.value.reason == "stalled" and time.monotonic() - started < 10


def test_a_python_root_under_tmp_is_visible_inside(tmp_path: Path, monkeypatch) -> None:
    """A clone (and its virtualenv) in /tmp: the jail's private /tmp must not hide it."""
    from autograder.sandbox import jail as jail_module
    root = tmp_path / "clone" / ".venv"
    root.mkdir(parents=True)
    (root / "marker.txt").write_text("visible")
    original = jail_module._python_roots
    monkeypatch.setattr(jail_module, "_python_roots", lambda: [*original(), root])
    out = run_jailed(f"print(open({str(root / 'marker.txt')!r}).read())")
    assert str(tmp_path).startswith("/tmp/") and out.stdout.strip() == "visible", out.stdout + out.stderr
