"""The OS sandbox that every process running student code is started in (backend: bubblewrap).

A :class:`Jail` is one sandbox instance. The program inside sees:

* the interpreter and the libraries it needs, read-only (``/usr``, the Python prefix and the
  virtualenv); the grading packages (``autograder``, ``zengrad_ref``) are masked even when they
  are installed into that virtualenv, and so is ``debugpy`` (a kernel under grading needs no
  debugger, and importing it is a fifth of a kernel's start-up CPU);
* a fresh private home (``/home/student``, a size-capped tmpfs, the working directory) seeded
  with a copy of the submission's files, and a size-capped ``/tmp``; nothing else is writable,
  and the course directory, the gradebook, other submissions and the grader's home are not there;
* its own PID namespace (it cannot see or signal the grader or its siblings, and nothing it
  starts outlives the sandbox), no network (its own network namespace), its own IPC and UTS
  namespaces, a scrubbed environment;
* an unprivileged uid: as root, bubblewrap builds the mounts and ``setpriv`` drops to a uid that
  no other running sandbox has (so per-uid limits such as ``RLIMIT_NPROC`` are per sandbox),
  with no capabilities and ``no_new_privs``; as an ordinary user, a user namespace maps the
  sandbox's uid 65534 onto the grader's uid;
* resource limits: address space, processes, CPU time, file size, open files; the grader adds
  its own CPU-time and wall-clock budgets on top (see ``autograder.sandbox``).

``Sandbox.backend = "none"`` runs the same commands without isolation (rlimits only). It is
never chosen silently: it must be configured, and every run says so loudly.

This module is the only place that knows about bubblewrap's command line, and it defines the
backends as objects (what the rest of the grader asks, through ``autograder/sandbox/backends.py``)
next to the jail their preflight starts, so neither module imports the other in a circle. Another
backend (a container runtime) would add a class here and replace :meth:`Jail.command` and
:func:`preflight`.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import resource
import shutil
import site
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from traitlets import Enum, Integer, List, Unicode
from traitlets.config import LoggingConfigurable

# ----------------------------------------------------------------------------------------- backends

DEFAULT_BACKEND = "bwrap"
UNSAFE_WARNING = ("SANDBOX DISABLED (Sandbox.backend = 'none'): student code runs unjailed, as the grader's "
                  "user, and can read the course, the gradebook and the reference engine")


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot start: nothing may be graded (there is no silent fallback to "unjailed")."""


class Backend:
    """How student code is isolated; subclasses name one backend and say whether it jails at all."""

    name: ClassVar[str] = ""
    jailed: ClassVar[bool] = True
    warning: ClassVar[str | None] = None  # said loudly on every run with this backend (None: nothing to say)
    note: ClassVar[str | None] = None  # the per-notebook note an outcome carries (None: nothing to note)
    options: ClassVar[tuple[str, ...]] = ()  # the ``c.Sandbox`` keys this backend is built with

    def preflight(self) -> None:
        """Check once that a sandbox can start here; raise :class:`SandboxUnavailable` with the fix if not."""

    def problem(self) -> str | None:
        """Why the sandbox cannot start here (None: it can); for reporting from a remote worker."""
        try:
            self.preflight()
        except SandboxUnavailable as exc:
            return str(exc)
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class Bubblewrap(Backend):
    """bubblewrap (plus setpriv when grading as root): namespaces, an unprivileged uid, no network."""

    name = "bwrap"
    jailed = True
    options = ("bwrap", "setpriv")

    def __init__(self, bwrap: str = "bwrap", setpriv: str = "setpriv") -> None:
        self.bwrap = bwrap  # c.Sandbox.bwrap
        self.setpriv = setpriv  # c.Sandbox.setpriv

    def preflight(self) -> None:
        """Start one trivial bubblewrap sandbox (once per process and executables)."""
        preflight(self.bwrap, self.setpriv)


class Unjailed(Backend):
    """No isolation (rlimits only): only when configured, and every run says so."""

    name = "none"
    jailed = False
    warning = UNSAFE_WARNING
    note = "graded WITHOUT the sandbox (Sandbox.backend = 'none')"


BACKENDS: dict[str, type[Backend]] = {cls.name: cls for cls in (Bubblewrap, Unjailed)}


def backend_named(name: str, **options: str) -> Backend:
    """The backend called ``name``, built with those of ``options`` it takes (its :attr:`Backend.options`; the
    others are ignored, so a caller can pass every ``c.Sandbox`` key); ValueError if the name is unknown."""
    try:
        cls = BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown sandbox backend {name!r} (choose one of: {', '.join(BACKENDS)})") from None
    return cls(**{key: value for key, value in options.items() if key in cls.options})


def jailed(name: str) -> bool:
    """Whether the backend a run recorded (results.json, metadata) jailed it; only a known unjailed name is not,
    so an old or foreign record is never reported as unsafe by mistake."""
    cls = BACKENDS.get(name)
    return cls is None or cls.jailed


# ----------------------------------------------------------------------------------------- the jail

HOME = "/home/student"  # the sandbox's home and working directory
SEED = "/zengrad/seed"  # read-only copy of the submission's files, copied into HOME at start
SANDBOX_UID_INSIDE = 65534  # what the student's code sees as its uid in a user namespace
HIDDEN_PACKAGES = ("autograder", "zengrad_ref")
UNNEEDED_PACKAGES = ("debugpy",)  # ipykernel runs without its debugger when this cannot be imported


@dataclass(frozen=True)
class JailLimits:
    """Per-process resource limits inside a jail (the grader adds CPU and wall budgets per request)."""

    memory_bytes: int = 1 << 30  # RLIMIT_AS
    cpu_seconds: int = 300  # RLIMIT_CPU: a hard cap; budgets per cell/check are enforced by the grader
    file_bytes: int = 16 << 20  # RLIMIT_FSIZE
    open_files: int = 256  # RLIMIT_NOFILE
    processes: int = 64  # RLIMIT_NPROC (threads count): the sandbox's own uid only
    home_bytes: int = 64 << 20  # size of the writable home (tmpfs)
    tmp_bytes: int = 64 << 20  # size of /tmp (tmpfs)


class Sandbox(LoggingConfigurable):
    """How student code is jailed; read from ``c.Sandbox`` in ``nbgrader_config.py``."""

    backend = Enum(list(BACKENDS), DEFAULT_BACKEND,
                   help="'bwrap' (bubblewrap, required for trustworthy grades) or 'none' (no isolation: "
                        "loud, recorded in every report; for debugging only).").tag(config=True)
    bwrap = Unicode("bwrap", help="The bubblewrap executable.").tag(config=True)
    setpriv = Unicode("setpriv", help="util-linux setpriv, used to drop root to the sandbox uid.").tag(config=True)
    uid_base = Integer(2_100_000_000, help="When grading as root, sandboxes run as uid_base + slot "
                                           "(a uid no account uses).").tag(config=True)
    uid_slots = Integer(4096, help="How many sandboxes may run at once on this machine.").tag(config=True)
    home_mb = Integer(64, help="Size of the sandbox's writable home (tmpfs), MiB.").tag(config=True)
    tmp_mb = Integer(64, help="Size of the sandbox's /tmp (tmpfs), MiB.").tag(config=True)
    processes = Integer(64, help="Processes and threads the sandbox may have at once.").tag(config=True)
    open_files = Integer(256, help="Open files per process.").tag(config=True)
    file_mb = Integer(16, help="Largest file a process may write, MiB.").tag(config=True)
    extra_ro_binds = List(Unicode(), [], help="More host paths to show read-only inside, at the same path "
                                              "(e.g. a data directory).").tag(config=True)

    def limits(self, memory_bytes: int, cpu_seconds: int) -> JailLimits:
        return JailLimits(memory_bytes=memory_bytes, cpu_seconds=cpu_seconds, file_bytes=self.file_mb << 20,
                          open_files=self.open_files, processes=self.processes, home_bytes=self.home_mb << 20,
                          tmp_bytes=self.tmp_mb << 20)

    def chosen(self) -> Backend:
        """The configured backend as an object (callers ask it, instead of comparing ``backend``'s string)."""
        return backend_named(self.backend, bwrap=self.bwrap, setpriv=self.setpriv)

    def jail(self, limits: JailLimits, files: dict[str, bytes] | None = None, ipc: bool = False) -> Jail:
        """A new sandbox instance (checked to work once per process; raises SandboxUnavailable)."""
        backend = self.chosen()
        backend.preflight()
        if backend.warning:
            self.log.warning(backend.warning)
        return Jail(backend.name, limits, files or {}, ipc=ipc, bwrap=self.bwrap, setpriv=self.setpriv,
                    uid_base=self.uid_base, uid_slots=self.uid_slots, extra_ro_binds=list(self.extra_ro_binds))


# ----------------------------------------------------------------------------------------- host facts


def _python_roots() -> list[Path]:
    """Directories the interpreter needs: its prefix, the virtualenv, and any site directory outside them."""
    roots: list[Path] = []
    candidates = [sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable)),
                  *site.getsitepackages()]
    for c in candidates:
        p = Path(c).resolve()
        if p.exists() and not any(p == r or r in p.parents for r in roots):
            roots = [r for r in roots if p not in r.parents] + [p]
    return roots


def _masked(roots: list[Path]) -> list[Path]:
    """Copies of the masked packages visible through a bound root: the one Python imports, and any
    other installed copy (a stale ``pip install .``) in a site directory or on ``sys.path``."""
    out: list[Path] = []
    found: list[Path] = []
    for name in (*HIDDEN_PACKAGES, *UNNEEDED_PACKAGES):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        found += [Path(loc) for loc in ((spec.submodule_search_locations or []) if spec else [])]
        for site_dir in {*site.getsitepackages(), *sys.path}:
            if site_dir:
                found.append(Path(site_dir) / name)
    for path in found:
        p = path.resolve()
        if p.is_dir() and p not in out and any(r == p or r in p.parents for r in roots):
            out.append(p)
    return out


def _usr_merge_args() -> list[str]:
    """/bin, /lib, ... as the host has them (symlinks into /usr on merged-/usr systems, else read-only binds)."""
    args: list[str] = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


_TOP = {"/", "/usr", "/home", "/tmp", "/proc", "/dev"} | {f"/{n}" for n in ("bin", "sbin", "lib", "lib32", "lib64",
                                                                            "libx32")}


def _parent_dirs(paths: list[str], skip: set[str] | None = None) -> list[str]:
    """``--dir`` arguments for every ancestor of the mount points, world-traversable (bwrap makes them 0700)."""
    skip = _TOP if skip is None else skip | {"/", "/tmp"}
    parents: set[str] = set()
    for path in paths:
        for parent in Path(path).parents:
            if str(parent) not in skip:
                parents.add(str(parent))
    args: list[str] = []
    for parent in sorted(parents, key=lambda p: (p.count("/"), p)):
        args += ["--perms", "0755", "--dir", parent]
    return args


_PREFLIGHT: dict[tuple[str, str], str | None] = {}


def preflight(bwrap: str = "bwrap", setpriv: str = "setpriv") -> None:
    """Start one trivial sandbox; raise SandboxUnavailable with the cause and the fix if that fails."""
    key = (bwrap, setpriv)
    if key not in _PREFLIGHT:
        _PREFLIGHT[key] = _try_sandbox(bwrap, setpriv)
    problem = _PREFLIGHT[key]
    if problem:
        raise SandboxUnavailable(problem)


def _try_sandbox(bwrap: str, setpriv: str) -> str | None:
    if shutil.which(bwrap) is None:
        return (f"the sandbox cannot start: bubblewrap ({bwrap!r}) is not installed. Fix: `apt-get install "
                "bubblewrap` (Debian/Ubuntu; .ci/setup does it), or set c.Sandbox.bwrap to its path. "
                "Grading without a sandbox needs an explicit c.Sandbox.backend = 'none' (unsafe).")
    if os.geteuid() == 0 and shutil.which(setpriv) is None:
        return (f"the sandbox cannot start: setpriv ({setpriv!r}, from util-linux) is not installed; it drops "
                "root to the sandbox's own uid. Fix: `apt-get install util-linux`.")
    jail = Jail("bwrap", JailLimits(), {"probe.txt": b"ok"}, bwrap=bwrap, setpriv=setpriv)
    try:
        code = ("import os, sys; assert open('probe.txt').read() == 'ok'; assert os.getuid() != 0; "
                "sys.stdout.write('sandbox-ok')")
        proc = subprocess.run(jail.command([sys.executable, "-I", "-S", "-c", code]), capture_output=True,
                              text=True, timeout=60, **jail.popen_kwargs())
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the sandbox cannot start: {exc}"
    finally:
        jail.close()
    if proc.returncode != 0 or proc.stdout != "sandbox-ok":
        err = (proc.stderr or proc.stdout).strip().splitlines()
        cause = err[-1] if err else f"exit status {proc.returncode}"
        fix = ("user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone=1 or "
               "user.max_user_namespaces > 0), or the grader runs in a container that forbids them "
               "(run it with --privileged or grade as root)")
        return f"the sandbox cannot start: {cause}. Likely fix: {fix}."
    return None


# ----------------------------------------------------------------------------------------- uid leases


class _UidLease:
    """An exclusive uid for one sandbox while it runs (a flock on a file per uid; released on close)."""

    def __init__(self, base: int, slots: int) -> None:
        folder = Path(tempfile.gettempdir()) / "zengrad-sandbox-uids"
        folder.mkdir(mode=0o700, exist_ok=True)
        start = os.getpid() % slots
        for k in range(slots):
            slot = (start + k) % slots
            fd = os.open(folder / f"{slot}.lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.fd, self.uid = fd, base + slot
            return
        raise SandboxUnavailable(f"all {slots} sandbox uids are in use (raise c.Sandbox.uid_slots)")

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


# ----------------------------------------------------------------------------------------- the jail


@dataclass
class Jail:
    """One sandbox: a staging directory with the seed files, and the command line that starts a program in it."""

    backend: str
    limits: JailLimits
    files: dict[str, bytes]
    ipc: bool = False  # also bind a private directory for a Jupyter kernel's ipc sockets (same path inside)
    bwrap: str = "bwrap"
    setpriv: str = "setpriv"
    uid_base: int = 2_100_000_000
    uid_slots: int = 4096
    extra_ro_binds: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bwrap = shutil.which(self.bwrap) or self.bwrap
        self.root = Path(tempfile.mkdtemp(prefix="zengrad-jail-"))
        os.chmod(self.root, 0o711)
        self.seed = self.root / "seed"
        self.seed.mkdir()
        for name, content in self.files.items():
            target = self.seed / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        self._lease: _UidLease | None = None
        self.uid = os.getuid()
        if self.backend == "bwrap" and os.geteuid() == 0:
            self._lease = _UidLease(self.uid_base, self.uid_slots)
            self.uid = self._lease.uid
        self.ipc_dir: Path | None = None
        if self.ipc:
            self.ipc_dir = self.root / "ipc"
            self.ipc_dir.mkdir(mode=0o700)
            if self._lease is not None:
                os.chown(self.ipc_dir, self.uid, self.uid)
        for path in self.seed.rglob("*"):
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        os.chmod(self.seed, 0o755)
        if self.backend == "none":  # unjailed: the home is a real directory
            self.home = self.root / "home"
            shutil.copytree(self.seed, self.home)
        else:
            self.home = Path(HOME)

    # -- what runs ---------------------------------------------------------------------
    @property
    def cwd(self) -> str:
        return str(self.home)

    def grant(self, path: Path) -> None:
        """Make a file the grader wrote (e.g. a kernel connection file) readable by the sandbox's uid."""
        if self._lease is not None:
            os.chown(path, self.uid, self.uid)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The whole environment of the jailed program (nothing of the grader's leaks in)."""
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.home),
            "TMPDIR": "/tmp" if self.backend == "bwrap" else str(self.home),
            "LANG": "C.UTF-8",
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "MPLCONFIGDIR": f"{self.home}/.config/matplotlib",
            "IPYTHONDIR": f"{self.home}/.ipython",
            "JUPYTER_CONFIG_DIR": f"{self.home}/.jupyter",
            "JUPYTER_DATA_DIR": f"{self.home}/.local/share/jupyter",
            "JUPYTER_RUNTIME_DIR": f"{self.home}/.local/share/jupyter/runtime",
        }
        env.update(extra or {})
        return env

    def command(self, argv: list[str], env: dict[str, str] | None = None) -> list[str]:
        """The command line that runs ``argv`` in this jail with exactly ``env`` (default: :meth:`env`)."""
        env = self.env() if env is None else env
        if self.backend == "none":
            return list(argv)
        lim = self.limits
        args = [self.bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "sandbox"]
        if self._lease is None:  # an ordinary user: a user namespace maps uid 65534 onto the grader's uid
            args += ["--unshare-user", "--uid", str(SANDBOX_UID_INSIDE), "--gid", str(SANDBOX_UID_INSIDE),
                     "--disable-userns"]
        roots = _python_roots()
        etc_files = [p for p in ("/etc/ld.so.cache", "/etc/fonts", "/etc/localtime", "/var/cache/fontconfig")
                     if os.path.exists(p)]
        targets = [*etc_files, "/etc/passwd", str(self.seed), SEED, *map(str, roots), *self.extra_ro_binds]
        # the private tmpfs mounts first: a Python root or the virtualenv may live under /tmp or /home
        # (a clone in /tmp), and a bind mounted before them would be hidden by them
        args += ["--perms", "1777", "--size", str(lim.tmp_bytes), "--tmpfs", "/tmp",
                 "--perms", "0755", "--size", str(lim.home_bytes), "--tmpfs", "/home",
                 "--perms", "0700" if self._lease is not None else "0777", "--size", str(lim.home_bytes),
                 "--tmpfs", HOME]
        args += ["--ro-bind", "/usr", "/usr", *_usr_merge_args(), *_parent_dirs(targets)]
        for etc in etc_files:
            args += ["--ro-bind", etc, etc]
        (self.root / "passwd").write_text(f"root:x:0:0::/root:/bin/sh\nstudent:x:{self._inside_uid()}:"
                                          f"{self._inside_uid()}::{HOME}:/bin/sh\n")
        (self.root / "group").write_text(f"root:x:0:\nstudent:x:{self._inside_uid()}:\n")
        args += ["--ro-bind", str(self.root / "passwd"), "/etc/passwd",
                 "--ro-bind", str(self.root / "group"), "/etc/group"]
        for root in roots:
            args += ["--ro-bind", str(root), str(root)]
        for path in self.extra_ro_binds:
            args += ["--ro-bind-try", path, path]
        for path in _masked(roots):
            args += ["--tmpfs", str(path)]
        args += ["--proc", "/proc", "--dev", "/dev", "--ro-bind", str(self.seed), SEED]
        if self.ipc_dir is not None:  # after the tmpfs mounts: its parents may be under /tmp
            args += [*_parent_dirs([str(self.ipc_dir)], skip=set()), "--bind", str(self.ipc_dir), str(self.ipc_dir)]
        args += ["--chdir", HOME, "--clearenv"]
        for key, value in env.items():
            args += ["--setenv", key, value]
        inner = ["/bin/sh", "-c", f'cp -R {SEED}/. {HOME}/ && exec "$0" "$@"', *argv]
        if self._lease is not None:  # root builds the mounts, then drops to the lease's uid for good
            args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_CHOWN", "--",
                     "/bin/sh", "-c", f"chown {self.uid}:{self.uid} {HOME} && exec \"$0\" \"$@\"",
                     self.setpriv, f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                     "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--", *inner]
        else:
            args += ["--", *inner]
        return args

    def _inside_uid(self) -> int:
        return self.uid if self._lease is not None else SANDBOX_UID_INSIDE

    def popen_kwargs(self) -> dict:
        """Keyword arguments for ``subprocess.Popen`` of :meth:`command` (limits, a session of its own)."""
        limits = self.limits

        if os.geteuid() != 0:  # RLIMIT_NPROC counts every process of the grader's uid, not the sandbox's
            limits = JailLimits(**{**limits.__dict__, "processes": limits.processes + _own_processes()})

        def preexec() -> None:
            set_limits(limits)

        return {"preexec_fn": preexec, "start_new_session": True,
                "cwd": str(self.home) if self.backend == "none" else str(self.root)}

    def close(self) -> None:
        """Remove the staging directory and release the uid (the sandbox's processes must be gone)."""
        if self._lease is not None:
            self._lease.release()
            self._lease = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Jail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _own_processes() -> int:
    """Processes and threads of this uid now (RLIMIT_NPROC counts them all)."""
    import psutil

    me, total = os.getuid(), 0
    for proc in psutil.process_iter(["uids", "num_threads"]):
        try:
            if proc.info["uids"] and proc.info["uids"].real == me:
                total += proc.info["num_threads"] or 1
        except psutil.Error:
            pass
    return total


def set_limits(limits: JailLimits) -> None:
    """rlimits of the calling process (used between fork and exec); inherited by everything it starts."""
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


__all__ = ["HOME", "Backend", "Jail", "JailLimits", "Sandbox", "SandboxUnavailable", "UNSAFE_WARNING", "preflight",
           "set_limits"]
