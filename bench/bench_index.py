#!/usr/bin/env python3
"""Benchmark repo-rlm's index against universal-ctags on a real or synthetic repository.

    python bench/bench_index.py PATH [PATH ...] [--runs N] [--json] [--json-file FILE]
    python bench/bench_index.py --synthetic 1000,4000,16000 [--runs N]

The Markdown tables go to stdout; with --json they go to stderr and the JSON to stdout.

For every tree it measures, in the same run and on the same files:

  * universal-ctags `ctags -R -f TMP TREE` (the baseline), timed like everything else;
  * cold index: `repo-rlm --repo TREE --index DB index --json` on a fresh DB (wall clock of
    the process, and the `seconds` it reports), with peak memory of the process tree;
  * warm re-check with nothing changed (CLI wall, reported seconds, and `Repo.update()` in
    process);
  * update after appending one function to one source file (a typical file and a "hub" file
    that many others import), through the CLI and in process, checking that the new function
    is then found by `defs`;
  * `find_defs` / `callers_of` latency in process over ~50 names sampled from the index
    (median, p95, max; plus the most frequent name as the worst case);
  * `repo-rlm defs NAME` / `repo-rlm callers SYM` end to end (wall clock, Python start-up
    included), and the interpreter / import floor under them.

The user's tree is never written to: a git work tree is cloned (`git clone --local`, so git
blob ids exist; uncommitted changes are not part of the copy) and anything else is copied to
a temporary directory. `--synthetic N` generates a deterministic monorepo of N files (Python,
TypeScript, Go, Java; realistic sizes, imports, cross-file calls, a git commit) instead.

Peak memory: "largest process" is the max RSS of the index process or any of its reaped
children (the rusage wait4 returns for that one process); "tree PSS" is the highest sum
of the proportional set size of the process and all its descendants, sampled every 50 ms
from /proc (RSS where PSS is unavailable). The target is checked against the larger of the two.

Only the standard library is used. The in-process measurements run in a child interpreter
that can import `repo_rlm` (this one, or the one in the `repo-rlm` script's shebang).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# Targets, for a sympy-size repository (1,600 Python files, 28 MB) on 2 cores.
TARGETS = {
    "cold_ratio": 5.0,        # cold index wall time / ctags wall time
    "warm_s": 0.3,            # warm re-check, nothing changed
    "update_s": 0.3,          # update after one changed file
    "query_ms": 5.0,          # find_defs / callers_of in process
    "cli_query_s": 0.5,       # `repo-rlm defs NAME` end to end
    "peak_mb": 1024.0,        # peak memory of the index process tree
}

HERE = Path(__file__).resolve().parent


def log(*args) -> None:
    print("[bench]", *args, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# statistics helpers


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def pct(xs, p):
    """Nearest-rank percentile."""
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    k = max(0, min(len(xs) - 1, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


# --------------------------------------------------------------------------------------------
# running processes: wall time, exit code, output, peak memory


def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as fh:
                    out.extend(int(x) for x in fh.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return out


def _tree(pid: int) -> list[int]:
    seen, stack = [], [pid]
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.append(p)
        stack.extend(_children(p))
    return seen


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _mem_kb(pid: int) -> int:
    """PSS of one process in KiB (RSS if smaps_rollup is unreadable), 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * _PAGE // 1024
    except (OSError, IndexError, ValueError):
        return 0


class TreeSampler(threading.Thread):
    """Samples the summed PSS of a process and its descendants until stopped."""

    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kb = 0
        self.peak_procs = 0
        self._halt = threading.Event()

    def run(self):
        if not os.path.isdir("/proc"):
            return
        while not self._halt.is_set():
            pids = _tree(self.pid)
            total = sum(_mem_kb(p) for p in pids)
            if total > self.peak_kb:
                self.peak_kb, self.peak_procs = total, len(pids)
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join(timeout=2)


class Run:
    """The outcome of one command."""

    def __init__(self, cmd, rc, wall, stdout, stderr, maxrss_kb=None, tree_kb=None, cpu=None):
        self.cmd, self.rc, self.wall, self.cpu = cmd, rc, wall, cpu
        self.stdout, self.stderr = stdout, stderr
        self.maxrss_kb, self.tree_kb = maxrss_kb, tree_kb

    @property
    def ok(self):
        return self.rc == 0

    def json(self):
        try:
            return json.loads(self.stdout)
        except (ValueError, TypeError):
            return None

    def error(self):
        tail = (self.stderr or self.stdout or "").strip().splitlines()[-3:]
        return f"exit {self.rc}: {' | '.join(tail)[:300]}"


class Runner:
    def __init__(self, timeout: float, cpus: int | None, env: dict | None = None):
        self.timeout = timeout
        self.cpus = cpus
        self.env = env

    def _preexec(self):
        if self.cpus and hasattr(os, "sched_setaffinity"):
            avail = sorted(os.sched_getaffinity(0))
            os.sched_setaffinity(0, avail[: self.cpus])

    def run(self, cmd, sample_memory=False, cwd=None, env=None) -> Run:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            t0 = time.perf_counter()
            p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd,
                                 env={**(self.env or os.environ), **(env or {})},
                                 preexec_fn=self._preexec if self.cpus else None)
            sampler = TreeSampler(p.pid) if sample_memory else None
            if sampler:
                sampler.start()
            killer = threading.Timer(self.timeout, p.kill)
            killer.daemon = True
            killer.start()
            try:
                _, status, ru = os.wait4(p.pid, 0)  # blocks; rusage covers the process and its reaped children
            finally:
                killer.cancel()
            wall = time.perf_counter() - t0
            p.returncode = os.waitstatus_to_exitcode(status)
            if sampler:
                sampler.stop()
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode("utf-8", "replace")
            stderr = err.read().decode("utf-8", "replace")
        if wall > self.timeout:
            stderr += f"\n(killed after {self.timeout:.0f} s timeout)"
        return Run(cmd, p.returncode, wall, stdout, stderr, ru.ru_maxrss if ru else None,
                   sampler.peak_kb if sampler else None, (ru.ru_utime + ru.ru_stime) if ru else None)


# --------------------------------------------------------------------------------------------
# locating repo-rlm


def find_cli(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    cands = [Path(sys.executable).parent / "repo-rlm"]
    w = shutil.which("repo-rlm")
    if w:
        cands.append(Path(w))
    cands.append(HERE.parent / ".venv" / "bin" / "repo-rlm")
    for c in cands:
        if c.exists() and os.access(c, os.X_OK):
            return str(c)
    return None


def find_python(cli: str | None) -> str:
    """An interpreter that can import repo_rlm: this one, or the one repo-rlm runs under."""
    import importlib.util

    if importlib.util.find_spec("repo_rlm") is not None:
        return sys.executable
    if cli:
        try:
            first = Path(cli).read_text(errors="replace").splitlines()[0]
            if first.startswith("#!"):
                interp = first[2:].strip().split()[0]
                if os.path.exists(interp):
                    return interp
        except (OSError, IndexError):
            pass
    return sys.executable


# --------------------------------------------------------------------------------------------
# preparing a private copy of the tree


def prepare_copy(path: Path, work: Path) -> tuple[Path, str]:
    dest = work / "tree"
    top = None
    try:
        top = subprocess.run(["git", "-C", str(path), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, check=True).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        top = None
    if top and Path(top).resolve() == path.resolve():
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "-uno"],
                               capture_output=True, text=True).stdout.strip()
        subprocess.run(["git", "clone", "-q", "--local", str(path), str(dest)], check=True)
        how = "git clone --local (HEAD" + (", uncommitted changes NOT included)" if dirty else ")")
    else:
        shutil.copytree(path, dest, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        how = "copytree" + (" (a subdirectory of a git work tree; copied without .git)" if top else "")
    return dest, how


def tree_stats(root: Path) -> dict:
    files = 0
    size = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for f in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, f))
            except OSError:
                continue
            files += 1
            size += st.st_size
    return {"tree_files": files, "tree_mb": size / 1e6}


# --------------------------------------------------------------------------------------------
# reading the index directly (names for queries, a hub file): best effort, schema may change


def db_query(db: Path, sql: str, args=()) -> list | None:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def names_from_index(db: Path, n: int, rng: random.Random) -> dict:
    res = {"defs": [], "callers": [], "heavy_def": None, "heavy_callee": None, "source": "index"}
    rows = db_query(db, "SELECT DISTINCT name FROM symbols WHERE kind IN "
                        "('function','method','class','struct','interface','enum')")
    if rows:
        names = sorted(r[0] for r in rows)
        res["defs"] = rng.sample(names, min(n, len(names)))
    rows = db_query(db, "SELECT DISTINCT s.qualname FROM symbols s JOIN calls c ON c.target = s.qualname "
                        "WHERE s.kind IN ('function','method')")
    if not rows:
        rows = db_query(db, "SELECT DISTINCT s.qualname FROM symbols s WHERE s.kind IN ('function','method') "
                            "AND s.name IN (SELECT name FROM calls)")
    if rows:
        q = sorted(r[0] for r in rows)
        res["callers"] = rng.sample(q, min(n, len(q)))
    r = db_query(db, "SELECT name, count(*) c FROM symbols GROUP BY name ORDER BY c DESC LIMIT 1")
    if r:
        res["heavy_def"] = [r[0][0], r[0][1]]
    # the in-repository target with the most call sites (callers_of's worst case)
    r = db_query(db, "SELECT target, count(*) c FROM calls WHERE target IN (SELECT qualname FROM symbols) "
                     "GROUP BY target ORDER BY c DESC LIMIT 1")
    if not r:
        r = db_query(db, "SELECT name, count(*) c FROM calls WHERE name IN (SELECT name FROM symbols) "
                         "GROUP BY name ORDER BY c DESC LIMIT 1")
    if r:
        res["heavy_callee"] = [r[0][0], r[0][1]]
    return res


def names_from_ctags(tags: Path, n: int, rng: random.Random) -> dict:
    names = set()
    try:
        with open(tags, errors="replace") as fh:
            for line in fh:
                if line.startswith("!_"):
                    continue
                parts = line.split("\t")
                if len(parts) > 3 and any(k in parts[3:] for k in ("f", "m", "c", "kind:function", "kind:member", "kind:class")):
                    names.add(parts[0])
    except OSError:
        pass
    names = sorted(names)
    pick = rng.sample(names, min(n, len(names)))
    return {"defs": pick, "callers": pick, "heavy_def": None, "heavy_callee": None, "source": "ctags"}


APPEND = {
    "python": "\n\ndef {name}(value=None):\n    \"\"\"Added by bench_index.\"\"\"\n    return value\n",
    "go": "\n\nfunc {Name}(value int) int {{\n\treturn value + 1\n}}\n",
    "typescript": "\n\nexport function {name}(value: number): number {{\n  return value + 1;\n}}\n",
    "tsx": "\n\nexport function {name}(value: number): number {{\n  return value + 1;\n}}\n",
    "javascript": "\n\nexport function {name}(value) {{\n  return value + 1;\n}}\n",
    "rust": "\n\npub fn {name}(value: i32) -> i32 {{\n    value + 1\n}}\n",
    "c": "\n\nint {name}(int value) {{\n    return value + 1;\n}}\n",
    "cpp": "\n\nint {name}(int value) {{\n    return value + 1;\n}}\n",
    "ruby": "\n\ndef {name}(value)\n  value\nend\n",
    "java": "JAVA",
}
EXT_LANG = {".py": "python", ".go": "go", ".ts": "typescript", ".tsx": "tsx", ".js": "javascript",
            ".rs": "rust", ".c": "c", ".cc": "cpp", ".cpp": "cpp", ".rb": "ruby", ".java": "java"}


def append_function(path: Path, lang: str, name: str) -> str:
    """Append (Java: insert before the last brace) a small function. Returns its defined name."""
    data = path.read_text(encoding="utf-8", errors="surrogateescape")
    if lang == "go":
        name = name[0].upper() + name[1:]
    if lang == "java":
        cut = data.rstrip().rfind("}")
        snippet = f"\n    public static int {name}(int value) {{\n        return value + 1;\n    }}\n"
        data = data[:cut] + snippet + data[cut:]
    else:
        if not data.endswith("\n"):
            data += "\n"
        data += APPEND[lang].format(name=name, Name=name)
    path.write_text(data, encoding="utf-8", errors="surrogateescape")
    return name


def pick_edit_files(db: Path, root: Path) -> dict:
    """A typical file (median size of the main language) and a hub (most imported) file."""
    out = {}
    rows = db_query(db, "SELECT path, lang, size FROM files")
    if not rows:  # fall back to walking the tree
        rows = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            for f in filenames:
                lang = EXT_LANG.get(os.path.splitext(f)[1])
                if lang:
                    p = os.path.join(dirpath, f)
                    rows.append((os.path.relpath(p, root), lang, os.path.getsize(p)))
    rows = [r for r in rows if r[1] in APPEND and (root / r[0]).is_file() and not os.path.islink(root / r[0])]
    if not rows:
        return out
    counts: dict[str, int] = {}
    for _, lang, _ in rows:
        counts[lang] = counts.get(lang, 0) + 1
    main = max(counts, key=counts.get)
    same = sorted((r for r in rows if r[1] == main), key=lambda r: (r[2], r[0]))
    # skip tests / fixtures when there is a choice: edits usually hit library code
    lib = [r for r in same if "test" not in r[0].lower()] or same
    out["typical"] = lib[len(lib) // 2][:2]
    # count in Python: an OR join of imports x files is slow on big indexes
    counts_by_module: dict[str, int] = {}
    for target, module in db_query(db, "SELECT target, module FROM imports") or []:
        for m in {target, module}:
            if m:
                counts_by_module[m] = counts_by_module.get(m, 0) + 1
    by_module = {m: (p, lang) for p, lang, m in db_query(db, "SELECT path, lang, module FROM files WHERE module != ''") or []}
    hub = sorted(((by_module[m][0], by_module[m][1], c) for m, c in counts_by_module.items() if m in by_module),
                 key=lambda r: (-r[2], r[0]))[:50]
    for path, lang, _ in hub:
        # a package's __init__ / index file is a hub too, but edits usually hit real modules
        base = path.rsplit("/", 1)[-1]
        if base.startswith(("__init__.", "index.")):
            continue
        if lang in APPEND and (root / path).is_file() and path != out["typical"][0]:
            out["hub"] = (path, lang)
            break
    return out


# --------------------------------------------------------------------------------------------
# the in-process part: runs in a child interpreter that can import repo_rlm


INPROC = r'''
import json, os, statistics, sys, time, resource
spec = json.loads(sys.argv[1])
t0 = time.perf_counter()
from repo_rlm.query.repo import Repo
t_import = time.perf_counter() - t0
out = {"import_s": t_import}
t0 = time.perf_counter()
try:
    repo = Repo.open(spec["root"], index_path=spec["db"], update=False)
except TypeError:
    repo = Repo.open(spec["root"], index_path=spec["db"])
out["open_s"] = time.perf_counter() - t0

def consume(r):
    if r is None:
        return 0
    try:
        return len(r)
    except TypeError:
        return sum(1 for _ in r)

def timed(fn, names):
    first, second, counts, errors = [], [], [], []
    for attempt in (first, second):
        for n in names:
            t = time.perf_counter()
            try:
                c = consume(fn(n))
            except Exception as exc:
                errors.append(f"{n}: {type(exc).__name__}: {exc}"[:200])
                c = None
            attempt.append((time.perf_counter() - t) * 1000)
            if attempt is second:
                counts.append(c)
    return {"first_ms": first, "ms": second, "results": counts, "errors": errors[:5]}

find_defs = getattr(repo, "find_defs")
callers_of = getattr(repo, "callers_of")
out["defs"] = timed(find_defs, spec["defs"])
out["callers"] = timed(callers_of, spec["callers"])
if spec.get("heavy_def"):
    out["heavy_def"] = timed(find_defs, [spec["heavy_def"]] * 5)
if spec.get("heavy_callee"):
    out["heavy_callee"] = timed(callers_of, [spec["heavy_callee"]] * 5)

def update():
    t = time.perf_counter()
    r = repo.update()
    return time.perf_counter() - t, (repr(r)[:200] if r is not None else None)

out["warm"] = [update() for _ in range(spec["runs"])]
edits = []
for i, (path, lang, name) in enumerate(spec.get("edits", [])):
    # the parent wrote nothing yet: we append here so the timing is in process
    sys.path.insert(0, spec["bench_dir"])
    from bench_index import append_function
    defined = append_function(__import__("pathlib").Path(spec["root"]) / path, lang, name)
    dt, r = update()
    try:
        found = consume(find_defs(defined))
    except Exception as exc:
        found = f"{type(exc).__name__}: {exc}"[:200]
    edits.append({"path": path, "name": defined, "s": dt, "update_result": r, "found": found})
out["edits"] = edits
out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
'''


# --------------------------------------------------------------------------------------------
# synthetic monorepo generator (deterministic for a given N and seed)

VERBS = ("get set load save parse build compute render validate update fetch apply resolve merge "
         "normalize convert encode decode filter collect register dispatch handle process format "
         "check create delete find make read write sync flush emit wrap split join scan").split()
NOUNS = ("user order config token session record cache query item node edge graph request response "
         "payload message event handler schema field value index entry report metric batch job task "
         "worker buffer stream header route policy account invoice price rule").split()
ROLES = ("Manager Service Client Store Builder Parser Handler Registry Factory Adapter Controller "
         "Validator Resolver Cache Repository Provider Serializer Scheduler Loader Router").split()
LANG_SHARE = (("python", 0.40), ("typescript", 0.25), ("go", 0.20), ("java", 0.15))


def _camel(s: str) -> str:
    a, *rest = s.split("_")
    return a + "".join(w.title() for w in rest)


def _pascal(s: str) -> str:
    return "".join(w.title() for w in s.split("_"))


class Unit:
    """One planned file: what it defines, so other files can import and call it."""

    def __init__(self, lang, pkg, mod, idx):
        self.lang, self.pkg, self.mod, self.idx = lang, pkg, mod, idx
        self.funcs: list[str] = []            # snake_case base names
        self.classes: list[tuple[str, list[str]]] = []  # (PascalName, [method snake names])
        self.deps: list["Unit"] = []


def _plan(n: int, rng: random.Random) -> list[Unit]:
    units: list[Unit] = []
    counts = {}
    rest = n
    for i, (lang, share) in enumerate(LANG_SHARE):
        c = rest if i == len(LANG_SHARE) - 1 else int(round(n * share))
        c = min(c, rest)
        counts[lang] = c
        rest -= c
    for lang, c in counts.items():
        per_pkg = 12
        lang_units = []
        for j in range(c):
            pkg = f"pkg{j // per_pkg:03d}"
            u = Unit(lang, pkg, f"{rng.choice(NOUNS)}_{rng.choice(ROLES).lower()}_{j:05d}", j)
            size = min(60, max(2, int(rng.lognormvariate(2.0, 0.7))))  # median ~7 units, long tail
            used = set()

            def fresh(base):
                name, k = base, 2
                while name in used:
                    name, k = f"{base}_{k}", k + 1
                used.add(name)
                return name

            n_classes = rng.randint(1, 2) if lang == "java" else sum(rng.random() < 0.3 for _ in range(size // 3 + 1))
            for _ in range(n_classes):
                cname = fresh(rng.choice(NOUNS).title() + rng.choice(ROLES))
                methods = [fresh(f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}") for _ in range(rng.randint(2, max(3, size // 2 + 1)))]
                u.classes.append((cname, methods))
            if lang != "java":
                for _ in range(max(1, size - n_classes * 3)):
                    u.funcs.append(fresh(f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}"))
            hubs = lang_units[: max(3, c // 50)]
            if lang_units:
                for _ in range(rng.randint(1, min(6, len(lang_units)))):
                    d = rng.choice(hubs) if rng.random() < 0.4 else rng.choice(lang_units)
                    if d not in u.deps:
                        u.deps.append(d)
            lang_units.append(u)
        units.extend(lang_units)
    return units


class _Gen:
    """Statement emitters shared by the four languages (each fills in its own syntax)."""

    def __init__(self, rng):
        self.rng = rng

    def body(self, callables, indent, lang, self_methods=(), objects=()):
        """3-12 statements mixing calls of local, imported and method targets.

        objects: (constructor expression, method) pairs: `x = Foo(); x.m()` receiver calls."""
        r = self.rng
        ind = indent
        lines = []
        v = 0

        def call_text():
            kind = r.random()
            if self_methods and kind < 0.25:
                m = r.choice(self_methods)
                return {"python": f"self.{m}", "typescript": f"this.{_camel(m)}",
                        "go": f"s.{_pascal(m)}", "java": f"this.{_camel(m)}"}[lang]
            if callables:
                return r.choice(callables)
            return {"python": "len", "typescript": "Math.abs", "go": "len", "java": "Math.abs"}[lang]

        for _ in range(r.randint(3, 12)):
            k = r.random()
            v += 1
            c = call_text()
            if objects and r.random() < 0.15:
                ctor, m = r.choice(objects)
                lines += {"python": [f"{ind}helper_{v} = {ctor}(None)", f"{ind}helper_{v}.{m}(value)"],
                          "typescript": [f"{ind}const helper{v} = new {ctor}();", f"{ind}helper{v}.{_camel(m)}(value);"],
                          "go": [f"{ind}helper{v} := {ctor}()", f"{ind}helper{v}.{_pascal(m)}(value)"],
                          }.get(lang, [])
                continue
            if lang == "python":
                if k < 0.35:
                    lines.append(f"{ind}value_{v} = {c}(value, {r.randint(0, 99)})")
                elif k < 0.55:
                    lines += [f"{ind}if value is not None and value > {r.randint(0, 50)}:",
                              f"{ind}    return {c}(value)"]
                elif k < 0.7:
                    lines += [f"{ind}for item in range({r.randint(2, 30)}):",
                              f"{ind}    total = {c}(item)",
                              f"{ind}    logger.debug(\"step %s %s\", item, total)"]
                elif k < 0.85:
                    lines += [f"{ind}try:", f"{ind}    {c}(value)", f"{ind}except (ValueError, KeyError) as exc:",
                              f"{ind}    raise RuntimeError(\"{c} failed\") from exc"]
                else:
                    lines.append(f"{ind}results = [{c}(x) for x in sorted(data or [])]")
            elif lang == "typescript":
                if k < 0.35:
                    lines.append(f"{ind}const value{v} = {c}(value, {r.randint(0, 99)});")
                elif k < 0.55:
                    lines += [f"{ind}if (value !== undefined && value > {r.randint(0, 50)}) {{",
                              f"{ind}  return {c}(value);", f"{ind}}}"]
                elif k < 0.7:
                    lines += [f"{ind}for (let i = 0; i < {r.randint(2, 30)}; i++) {{",
                              f"{ind}  const total = {c}(i);", f"{ind}  console.debug(`step ${{i}}`, total);", f"{ind}}}"]
                elif k < 0.85:
                    lines += [f"{ind}try {{", f"{ind}  {c}(value);", f"{ind}}} catch (err) {{",
                              f"{ind}  throw new Error(`{c} failed: ${{err}}`);", f"{ind}}}"]
                else:
                    lines.append(f"{ind}const results{v} = (data ?? []).map((x) => {c}(x));")
            elif lang == "go":
                if k < 0.35:
                    lines.append(f"{ind}value{v} := {c}(value + {r.randint(0, 99)})")
                    lines.append(f"{ind}_ = value{v}")
                elif k < 0.55:
                    lines += [f"{ind}if value > {r.randint(0, 50)} {{", f"{ind}\treturn {c}(value)", f"{ind}}}"]
                elif k < 0.7:
                    lines += [f"{ind}for i := 0; i < {r.randint(2, 30)}; i++ {{", f"{ind}\ttotal := {c}(i)",
                              f"{ind}\tfmt.Println(\"step\", i, total)", f"{ind}}}"]
                elif k < 0.85:
                    lines += [f"{ind}if err := check(value); err != nil {{",
                              f"{ind}\treturn {c}(0)", f"{ind}}}"]
                else:
                    lines.append(f"{ind}value = {c}(strings.Count(\"abc\", \"a\") + value)")
            else:  # java
                if k < 0.35:
                    lines.append(f"{ind}int value{v} = {c}(value + {r.randint(0, 99)});")
                elif k < 0.55:
                    lines += [f"{ind}if (value > {r.randint(0, 50)}) {{", f"{ind}    return {c}(value);", f"{ind}}}"]
                elif k < 0.7:
                    lines += [f"{ind}for (int i = 0; i < {r.randint(2, 30)}; i++) {{",
                              f"{ind}    int total = {c}(i);", f"{ind}    LOG.fine(\"step \" + i + total);", f"{ind}}}"]
                elif k < 0.85:
                    lines += [f"{ind}try {{", f"{ind}    {c}(value);", f"{ind}}} catch (IllegalStateException e) {{",
                              f"{ind}    throw new RuntimeException(\"{c} failed\", e);", f"{ind}}}"]
                else:
                    lines.append(f"{ind}List<Integer> results{v} = new ArrayList<>(); results{v}.add({c}(value));")
        return lines


def _py_file(u: Unit, rng, g: _Gen) -> str:
    objects = []
    L = [f'"""{u.pkg}.{u.mod}: {u.mod.split("_")[0]} {u.mod.split("_")[1]} helpers (synthetic)."""',
         "from __future__ import annotations", "", "import logging", "import os",
         "from typing import Any, Optional", ""]
    callables = []
    for d in u.deps:
        if d.pkg == u.pkg and rng.random() < 0.5:
            L.append(f"from . import {d.mod}")
            pre = f"{d.mod}."
        elif rng.random() < 0.5:
            names = rng.sample(d.funcs, min(len(d.funcs), 2)) + [c for c, _ in d.classes[:1]]
            L.append(f"from synth.{d.pkg}.{d.mod} import {', '.join(names)}")
            callables += [n for n in names if n in d.funcs]
            for cname, methods in d.classes[:1]:
                callables.append(cname)
                objects += [(cname, m) for m in methods[:3]]
            continue
        else:
            L.append(f"from synth.{d.pkg} import {d.mod}")
            pre = f"{d.mod}."
        callables += [pre + f for f in rng.sample(d.funcs, min(3, len(d.funcs)))]
        callables += [pre + c for c, _ in d.classes[:1]]
        objects += [(pre + c, m) for c, ms in d.classes[:1] for m in ms[:3]]
    local = list(u.funcs)
    objects += [(c, m) for c, ms in u.classes for m in ms[:3]]
    L += ["", "logger = logging.getLogger(__name__)", f"DEFAULT_LIMIT = {rng.randint(10, 1000)}", ""]
    for cname, methods in u.classes:
        base = ""
        for d in u.deps:
            if d.classes and rng.random() < 0.3:
                base = f"({d.mod}.{d.classes[0][0]})" if any(l.endswith(f"import {d.mod}") for l in L) else ""
                break
        L += ["", f"class {cname}{base}:", f'    """{cname}: synthetic class with {len(methods)} methods."""', "",
              "    def __init__(self, config: Optional[dict] = None) -> None:",
              "        self.config = config or {}", "        self.count = 0", ""]
        for m in methods:
            L += [f"    def {m}(self, value: Optional[int] = None, data: Any = None) -> Any:",
                  f'        """{m.replace("_", " ").capitalize()}."""']
            L += g.body(callables + local, "        ", "python", methods, objects)
            L += ["        return value", ""]
    for f in u.funcs:
        L += ["", f"def {f}(value: Optional[int] = None, data: Any = None) -> Any:",
              f'    """{f.replace("_", " ").capitalize()} for {u.mod}."""']
        L += g.body(callables + local, "    ", "python", (), objects)
        L += ["    return value", ""]
    return "\n".join(L) + "\n"


def _ts_file(u: Unit, rng, g: _Gen) -> str:
    objects = []
    L = [f"// {u.pkg}/{u.mod}.ts (synthetic)"]
    callables = []
    for d in u.deps:
        rel = f"./{d.mod}" if d.pkg == u.pkg else f"../../{d.pkg}/src/{d.mod}"
        if rng.random() < 0.5:
            names = [_camel(f) for f in rng.sample(d.funcs, min(2, len(d.funcs)))] + [c for c, _ in d.classes[:1]]
            L.append(f"import {{ {', '.join(names)} }} from \"{rel}\";")
            callables += [n for n in names if n[0].islower()]
            callables += [f"new {c}" for c, _ in d.classes[:1]]
            objects += [(c, m) for c, ms in d.classes[:1] for m in ms[:3]]
        else:
            alias = _camel(d.mod)
            L.append(f"import * as {alias} from \"{rel}\";")
            callables += [f"{alias}.{_camel(f)}" for f in rng.sample(d.funcs, min(3, len(d.funcs)))]
    local = [_camel(f) for f in u.funcs]
    L += ["", f"export const DEFAULT_LIMIT = {rng.randint(10, 1000)};", "",
          "export interface Options {", "  limit?: number;", "  verbose?: boolean;", "}", ""]
    for cname, methods in u.classes:
        L += [f"export class {cname} {{", "  private count = 0;", "",
              "  constructor(private readonly options: Options = {}) {}", ""]
        for m in methods:
            L += [f"  {_camel(m)}(value?: number, data?: number[]): any {{"]
            L += g.body(callables + local, "    ", "typescript", methods, objects)
            L += ["    return value;", "  }", ""]
        L += ["}", ""]
    for f in u.funcs:
        L += [f"/** {f.replace('_', ' ')} */", f"export function {_camel(f)}(value?: number, data?: number[]): any {{"]
        L += g.body(callables + local, "  ", "typescript", (), objects)
        L += ["  return value;", "}", ""]
    return "\n".join(L) + "\n"


def _go_file(u: Unit, rng, g: _Gen) -> str:
    imports = ['"fmt"', '"strings"']
    objects = []
    callables = []
    for d in u.deps:
        if d.pkg == u.pkg:
            callables += [_pascal(f) for f in d.funcs[:3]]
        else:
            imp = f'"example.com/mono/go/{d.pkg}"'
            if imp not in imports:
                imports.append(imp)
            callables += [f"{d.pkg}.{_pascal(f)}" for f in rng.sample(d.funcs, min(3, len(d.funcs)))]
            objects += [(f"{d.pkg}.New{c}", m) for c, ms in d.classes[:1] for m in ms[:3]]
    local = [_pascal(f) for f in u.funcs]
    L = [f"// Package {u.pkg}: {u.mod} (synthetic).", f"package {u.pkg}", "", "import ("]
    L += [f"\t{i}" for i in imports] + [")", ""]
    L += [f"func check{u.idx}(v int) error {{", "\tif v < 0 {", "\t\treturn fmt.Errorf(\"negative %d\", v)", "\t}",
          "\treturn nil", "}", ""]
    body_calls = callables + local
    for cname, methods in u.classes:
        L += [f"// {cname} is synthetic.", f"type {cname} struct {{", "\tCount int", "\tName  string", "}", "",
              f"func New{cname}() *{cname} {{", f"\treturn &{cname}{{}}", "}", ""]
        for m in methods:
            L += [f"func (s *{cname}) {_pascal(m)}(value int) int {{"]
            L += [ln.replace("check(", f"check{u.idx}(") for ln in g.body(body_calls, "\t", "go", methods, objects)]
            L += ["\treturn value", "}", ""]
    for f in u.funcs:
        L += [f"// {_pascal(f)} is synthetic.", f"func {_pascal(f)}(value int) int {{"]
        L += [ln.replace("check(", f"check{u.idx}(") for ln in g.body(body_calls, "\t", "go", (), objects)]
        L += ["\treturn value", "}", ""]
    return "\n".join(L) + "\n"


def _java_file(u: Unit, rng, g: _Gen) -> str:
    cname, methods = u.classes[0]
    L = [f"package com.example.{u.pkg};", "", "import java.util.ArrayList;", "import java.util.List;",
         "import java.util.logging.Logger;"]
    callables = []
    for d in u.deps:
        dc, dm = d.classes[0]
        if d.pkg != u.pkg:
            L.append(f"import com.example.{d.pkg}.{dc};")
        callables += [f"{dc}.{_camel(m)}" for m in rng.sample(dm, min(3, len(dm)))]
    local = [_camel(m) for m in methods]
    L += ["", f"/** {cname}: synthetic. */", f"public class {cname} {{",
          f"    private static final Logger LOG = Logger.getLogger({cname}.class.getName());",
          f"    public static final int DEFAULT_LIMIT = {rng.randint(10, 1000)};", ""]
    for m in methods:
        L += [f"    public static int {_camel(m)}(int value) {{"]
        L += g.body(callables + local, "        ", "java")
        L += ["        return value;", "    }", ""]
    for extra, ems in u.classes[1:]:
        L += [f"    public static class {extra} {{"]
        for m in ems:
            L += [f"        public int {_camel(m)}(int value) {{"]
            L += g.body(callables, "            ", "java", ems)
            L += ["            return value;", "        }", ""]
        L += ["    }", ""]
    L += ["}"]
    return "\n".join(L) + "\n"


def generate_synthetic(n: int, dest: Path, seed: int = 1, git: bool = True) -> Path:
    rng = random.Random(seed * 1000003 + n)
    units = _plan(n, rng)
    g = _Gen(rng)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "README.md").write_text(f"# synthetic monorepo ({n} files, seed {seed})\n")
    (dest / "go" / "go.mod").parent.mkdir(parents=True, exist_ok=True)
    (dest / "go" / "go.mod").write_text("module example.com/mono/go\n\ngo 1.21\n")
    made_py_pkgs = set()
    for u in units:
        if u.lang == "python":
            d = dest / "python" / "synth" / u.pkg
            if u.pkg not in made_py_pkgs:
                d.mkdir(parents=True, exist_ok=True)
                (d / "__init__.py").write_text(f'"""synthetic package {u.pkg}."""\n')
                made_py_pkgs.add(u.pkg)
            (d / f"{u.mod}.py").write_text(_py_file(u, rng, g))
        elif u.lang == "typescript":
            d = dest / "ts" / "packages" / u.pkg / "src"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"{u.mod}.ts").write_text(_ts_file(u, rng, g))
        elif u.lang == "go":
            d = dest / "go" / u.pkg
            d.mkdir(parents=True, exist_ok=True)
            (d / f"{u.mod}.go").write_text(_go_file(u, rng, g))
        else:
            d = dest / "java" / "src" / "main" / "java" / "com" / "example" / u.pkg
            d.mkdir(parents=True, exist_ok=True)
            (d / f"{u.classes[0][0]}.java").write_text(_java_file(u, rng, g))
    if (dest / "python" / "synth").is_dir():
        (dest / "python" / "synth" / "__init__.py").write_text('"""synthetic root package."""\n')
    if git and shutil.which("git"):
        env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.invalid",
                   GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.invalid")
        for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "synthetic"]):
            subprocess.run(cmd, cwd=dest, env=env, check=True, stdout=subprocess.DEVNULL)
    return dest


# --------------------------------------------------------------------------------------------
# the benchmark of one tree


def package_dir(py: str) -> Path | None:
    """Where the repo_rlm being measured lives."""
    try:
        loc = subprocess.run([py, "-c", "import repo_rlm, os; print(os.path.dirname(repo_rlm.__file__))"],
                             capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(loc) if loc else None


def code_hash(py: str) -> str | None:
    """A short hash of the repo_rlm sources being measured (they change while people work)."""
    import hashlib

    loc = package_dir(py)
    if loc is None:
        return None
    h = hashlib.sha1()
    for f in sorted(loc.rglob("*")):
        if f.suffix in (".py", ".scm") and f.is_file():
            h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:10]


def compile_bytecode(py: str) -> bool:
    """Compile repo_rlm's bytecode ahead, as installing a wheel does: with PYTHONDONTWRITEBYTECODE
    set (or a read-only tree) an editable install compiles every module at every start, about
    0.2 s a CLI call, which no installed package pays. True when the bytecode is there."""
    loc = package_dir(py)
    if loc is None:
        return False
    return subprocess.run([py, "-m", "compileall", "-q", str(loc)], capture_output=True, timeout=300).returncode == 0


def empty_cache(runner: Runner) -> None:
    """Start from an empty fact cache (the bench's own, never the user's)."""
    shutil.rmtree(runner.env["REPO_RLM_FACT_CACHE"], ignore_errors=True)


def _git_out(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout


def pick_other_rev(root: Path, share: float) -> tuple[str, int, int]:
    """The furthest first-parent ancestor of HEAD (trying 25, 50, 100, ... commits back) whose diff
    touches at most `share` of the tracked files: (rev, files differing, tracked files)."""
    total = len(_git_out(root, "ls-files").splitlines())
    best = None
    n = 25
    while n <= 6400:
        rev = f"HEAD~{n}"
        try:
            changed = len(_git_out(root, "diff", "--name-only", rev, "HEAD").splitlines())
        except subprocess.CalledProcessError:
            break
        if changed > share * total:
            break
        best = (rev, changed, total)
        n *= 2
    if best is None:
        changed = len(_git_out(root, "diff", "--name-only", "HEAD~1", "HEAD").splitlines())
        best = ("HEAD~1", changed, total)
    return best


def bench_revisions(label: str, root: Path, work: Path, args, runner: Runner, cli: str) -> dict:
    """Another commit of a git tree: a second clone with a warm fact cache, and a checkout + update,
    each against that commit's own cold build, in the same run."""
    R: dict = {"label": label, "errors": [], "loadavg_start": os.getloadavg()[0]}
    try:
        rev, changed, total = (args.other_rev, None, None) if args.other_rev else pick_other_rev(root, args.diff_share)
        sha = _git_out(root, "rev-parse", rev).strip()
    except subprocess.CalledProcessError as exc:
        R["errors"].append(f"no other revision: {exc}")
        return R
    R.update(other_rev=rev, other_sha=sha[:12], files_differing=changed, tracked_files=total)
    head, other = work / "head", work / "other"  # clean clones (the measurements above edit files in root)
    subprocess.run(["git", "clone", "-q", "--local", str(root), str(head)], check=True)
    root = head
    subprocess.run(["git", "clone", "-q", "--local", str(root), str(other)], check=True)
    subprocess.run(["git", "-C", str(other), "checkout", "-q", sha], check=True)
    dbs = {k: work / f"rev-{k}.db" for k in ("head", "other", "moving", "cold", "cold0")}

    def fresh(db: Path) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)

    def index(tree: Path, db: Path) -> Run:
        r = runner.run([cli, "--repo", str(tree), "--index", str(db), "index", "--json"])
        if not r.ok or r.json() is None:
            raise RuntimeError(r.error())
        return r

    cold, clone2, update, misses, upd_files, resolved, phases = [], [], [], [], [], [], []
    upd_misses, upd_phases = [], []
    try:
        for run in range(args.runs):
            empty_cache(runner)  # the other commit's own cold build (the first one kept: two cold builds may differ too)
            fresh(dbs["cold0" if run == 0 else "cold"])
            cold.append(index(other, dbs["cold0" if run == 0 else "cold"]).wall)
            empty_cache(runner)  # warm the cache with HEAD only, then a second clone at the other commit
            fresh(dbs["head"])
            index(root, dbs["head"])
            fresh(dbs["other"])
            r = index(other, dbs["other"])
            rep = r.json()
            clone2.append(r.wall)
            misses.append((rep.get("fact_cache") or {}).get("misses"))
            resolved.append(rep.get("resolved"))
            phases.append(rep.get("phases"))
            empty_cache(runner)  # one work tree: index HEAD, check out the other commit, update
            fresh(dbs["moving"])
            index(root, dbs["moving"])
            subprocess.run(["git", "-C", str(root), "checkout", "-q", sha], check=True)
            try:
                r = index(root, dbs["moving"])
                rep = r.json()
                update.append(r.wall)
                upd_files.append(rep.get("updated_files"))
                upd_misses.append((rep.get("fact_cache") or {}).get("misses"))
                upd_phases.append(rep.get("phases"))
            finally:
                subprocess.run(["git", "-C", str(root), "checkout", "-q", "-"], check=True)
    except RuntimeError as exc:
        R["errors"].append(str(exc))
    R.update(cold_other_s=median(cold), clone2_s=median(clone2), checkout_update_s=median(update),
             cold_other_all_s=cold, clone2_all_s=clone2, checkout_update_all_s=update,
             clone2_misses=misses, update_files=upd_files, clone2_resolved=resolved, clone2_phases=phases,
             update_misses=upd_misses, update_phases=upd_phases,
             loadavg_end=os.getloadavg()[0])
    last_cold = dbs["cold"] if len(cold) > 1 else dbs["cold0"]
    if cold and clone2:  # the incremental indexes must hold the calls a cold build of the same commit holds
        R["clone2_calls_differing"] = calls_differing(dbs["other"], last_cold)
    if cold and update:
        R["checkout_calls_differing"] = calls_differing(dbs["moving"], last_cold)
    if len(cold) > 1:  # ... as far as two cold builds agree (the resolver depends on the order files arrive in)
        R["cold_calls_differing"] = calls_differing(dbs["cold0"], dbs["cold"])
    return R


def calls_differing(a: Path, b: Path) -> tuple[int, int]:
    """(rows of the calls table in one index and not the other, rows in b): 0 means the same table."""
    from collections import Counter

    q = ("SELECT f.path, c.caller, c.callee_text, c.line, c.col, c.is_new, c.target, c.resolution "
         "FROM calls c JOIN files f ON f.id = c.file_id")
    tables = []
    for db in (a, b):
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            tables.append(Counter(conn.execute(q)))
        finally:
            conn.close()
    return sum(((tables[0] - tables[1]) + (tables[1] - tables[0])).values()), sum(tables[1].values())


def revisions_table(R: dict) -> str:
    c = R.get("cold_other_s")

    def share(x):
        return f"{x / c:.0%}" if (x is not None and c) else "n/a"

    out = [f"### {R['label']}: another commit ({R.get('other_rev')} = {R.get('other_sha')}, "
           f"{R.get('files_differing', '?')} of {R.get('tracked_files', '?')} tracked files differ)", "",
           f"Load average {_f(R.get('loadavg_start'), '', 1)} at start, {_f(R.get('loadavg_end'), '', 1)} at end.", "",
           "| measurement | wall (median) | all runs | of its cold build | target |", "| --- | ---: | --- | ---: | --- |",
           f"| cold build of the other commit (empty fact cache) | {_f(c, ' s')} | {_fl(R.get('cold_other_all_s'))} | 100% | |",
           f"| second clone at the other commit, fact cache warm from HEAD (parsed {R.get('clone2_misses')}) | "
           f"{_f(R.get('clone2_s'), ' s')} | {_fl(R.get('clone2_all_s'))} | {share(R.get('clone2_s'))} | <= 25% |",
           f"| checkout of the other commit in an indexed work tree, then update (updated {R.get('update_files')}) | "
           f"{_f(R.get('checkout_update_s'), ' s')} | {_fl(R.get('checkout_update_all_s'))} | {share(R.get('checkout_update_s'))} | <= 25% |"]
    out += ["", f"Second clone: resolved again {R.get('clone2_resolved')}; phases {R.get('clone2_phases')}.",
            f"Checkout + update: parsed {R.get('update_misses')} (blobs not in the fact cache); phases {R.get('update_phases')}."]
    for key, what in (("clone2_calls_differing", "second clone"), ("checkout_calls_differing", "checkout + update"),
                      ("cold_calls_differing", "first cold build")):
        if R.get(key):
            n, total = R[key]
            out.append(f"Calls table of the {what} vs the cold build of the same commit: {n} of {total} rows differ.")
    if R.get("errors"):
        out += ["", "Errors:"] + [f"- {e}" for e in R["errors"]]
    return "\n".join(out) + "\n"


def bench_executors(label: str, root: Path, work: Path, args, runner: Runner, cli: str) -> dict:
    """Cold builds with the process pool and with Ray on a local cluster (empty fact cache each time)."""
    R: dict = {"label": label, "errors": [], "loadavg_start": os.getloadavg()[0]}
    db = work / "exec.db"
    for name in ("process", "ray"):
        times = []
        for _ in range(args.runs):
            empty_cache(runner)
            for suffix in ("", "-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
            r = runner.run([cli, "--repo", str(root), "--index", str(db), "index", "--json", "--executor", name],
                           env={"RAY_ADDRESS": ""} if name == "ray" and not os.environ.get("RAY_ADDRESS") else None)
            if not r.ok or r.json() is None:
                R["errors"].append(f"{name}: {r.error()}")
                break
            times.append(r.wall)
        R[f"{name}_s"], R[f"{name}_all_s"] = median(times), times
    R["loadavg_end"] = os.getloadavg()[0]
    return R


def executors_table(R: dict) -> str:
    p, r = R.get("process_s"), R.get("ray_s")
    out = [f"### {R['label']}: executors (cold build, empty fact cache; Ray on a local cluster of this machine)", "",
           f"Load average {_f(R.get('loadavg_start'), '', 1)} at start, {_f(R.get('loadavg_end'), '', 1)} at end.", "",
           "| executor | wall (median) | all runs | vs process pool |", "| --- | ---: | --- | ---: |",
           f"| process pool | {_f(p, ' s')} | {_fl(R.get('process_all_s'))} | 1.0x |",
           f"| Ray (start-up of the local cluster included) | {_f(r, ' s')} | {_fl(R.get('ray_all_s'))} | "
           f"{f'{r / p:.2f}x' if p and r else 'n/a'} |"]
    if R.get("errors"):
        out += ["", "Errors:"] + [f"- {e}" for e in R["errors"]]
    return "\n".join(out) + "\n"


def _fl(xs) -> str:
    return ", ".join(f"{x:.2f}" for x in xs) if xs else "n/a"


def bench_tree(label: str, root: Path, work: Path, args, runner: Runner, cli: str | None, py: str) -> dict:
    R: dict = {"label": label, "root": str(root), "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
               "errors": []}
    if args.cpus:
        R["cpus"] = min(R["cpus"], args.cpus)
    R.update(tree_stats(root))
    R["repo_rlm_sources"] = code_hash(py)
    R["loadavg_start"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    rng = random.Random(args.seed)
    runs = args.runs

    # ---- ctags baseline
    tags = work / "ctags.tags"
    if shutil.which("ctags"):
        ct = []
        for i in range(runs):
            if tags.exists():
                tags.unlink()
            r = runner.run(["ctags", "-R", "-f", str(tags), str(root)], sample_memory=False)
            if not r.ok:
                R["errors"].append(f"ctags: {r.error()}")
                break
            ct.append(r)
        if ct:
            R["ctags_s"] = median([r.wall for r in ct])
            R["ctags_cpu_s"] = median([r.cpu for r in ct])
            R["ctags_all_s"] = [r.wall for r in ct]
            R["ctags_maxrss_mb"] = max(r.maxrss_kb for r in ct) / 1024
            with open(tags, errors="replace") as fh:
                R["ctags_tags"] = sum(1 for line in fh if not line.startswith("!_"))
        log(f"{label}: ctags {R.get('ctags_s', float('nan')):.2f} s")
    else:
        R["errors"].append("ctags not found on PATH: no baseline")

    if not cli:
        R["errors"].append("repo-rlm not found (pass --repo-rlm): index measurements skipped")
        return R
    db = work / "index.db"

    def index_cmd():
        return [cli, "--repo", str(root), "--index", str(db), "index", "--json"]

    def rm_db():
        for suffix in ("", "-wal", "-shm", "-journal"):
            p = Path(str(db) + suffix)
            if p.exists():
                p.unlink()

    # ---- cold index: a fresh DB and an empty fact cache each time
    cold = []
    for i in range(runs):
        rm_db()
        empty_cache(runner)
        r = runner.run(index_cmd(), sample_memory=True)
        if not r.ok or r.json() is None:
            R["errors"].append(f"cold index: {r.error()}")
            break
        cold.append(r)
        log(f"{label}: cold index run {i + 1}/{runs}: {r.wall:.2f} s wall, "
            f"{r.json().get('seconds')} s reported, largest process {r.maxrss_kb / 1024:.0f} MB, "
            f"tree {r.tree_kb / 1024:.0f} MB")
    if not cold:
        return R
    info = cold[-1].json()
    R["index"] = {k: info.get(k) for k in ("files", "symbols", "calls", "imports", "languages", "updated_files",
                                           "seconds", "skipped", "lines", "bytes")}
    R["cold_s"] = median([r.wall for r in cold])
    R["cold_all_s"] = [r.wall for r in cold]
    R["cold_cpu_s"] = median([r.cpu for r in cold])
    R["cold_reported_s"] = median([r.json().get("seconds") for r in cold])
    # ---- a fresh DB of the same tree with the fact cache the cold runs left (another clone, same commit)
    same = []
    for i in range(runs):
        rm_db()
        r = runner.run(index_cmd())
        if not r.ok or r.json() is None:
            R["errors"].append(f"cold index, warm fact cache: {r.error()}")
            break
        same.append(r)
    if same:
        R["cold_cached_s"] = median([r.wall for r in same])
        R["cold_cached_hits"] = (same[-1].json().get("fact_cache") or {}).get("hits")
    R["peak_rss_mb"] = max(r.maxrss_kb for r in cold) / 1024
    R["peak_tree_mb"] = max(r.tree_kb or 0 for r in cold) / 1024
    R["db_mb"] = sum(Path(str(db) + s).stat().st_size for s in ("", "-wal") if Path(str(db) + s).exists()) / 1e6
    if info.get("bytes") is not None:
        R["indexed_mb"] = info["bytes"] / 1e6
    else:
        size = db_query(db, "SELECT sum(size) FROM files WHERE lang != 'skipped'")
        R["indexed_mb"] = (size[0][0] or 0) / 1e6 if size else None

    # ---- warm re-check (CLI)
    warm = []
    for i in range(runs):
        r = runner.run(index_cmd())
        if not r.ok or r.json() is None:
            R["errors"].append(f"warm re-check: {r.error()}")
            break
        warm.append(r)
    if warm:
        R["warm_s"] = median([r.wall for r in warm])
        R["warm_reported_s"] = median([r.json().get("seconds") for r in warm])
        R["warm_updated_files"] = [r.json().get("updated_files") for r in warm]

    # ---- names for queries
    names = names_from_index(db, args.queries, rng)
    if not names["defs"] or not names["callers"]:
        names = names_from_ctags(tags, args.queries, rng) if tags.exists() else names
    R["names_source"] = names["source"]
    R["names_sample"] = {"defs": names["defs"][:5], "callers": names["callers"][:5],
                         "heavy_def": names["heavy_def"], "heavy_callee": names["heavy_callee"]}

    # ---- one-file edits to time: a typical file and a hub file
    edit_files = pick_edit_files(db, root)
    R["edit_files"] = {k: v[0] for k, v in edit_files.items()}
    stamp = f"{os.getpid()}_{int(time.time()) % 100000}"

    # ---- in process: queries, warm update, one-file updates
    spec = {"root": str(root), "db": str(db), "defs": names["defs"], "callers": names["callers"],
            "heavy_def": names["heavy_def"][0] if names["heavy_def"] else None,
            "heavy_callee": names["heavy_callee"][0] if names["heavy_callee"] else None,
            "runs": runs, "bench_dir": str(HERE),
            "edits": [(p, lang, f"bench_inproc_{kind}_{i}_{stamp}") for kind, (p, lang) in edit_files.items()
                      for i in range(runs)]}
    r = runner.run([py, "-c", INPROC, json.dumps(spec)], sample_memory=True)
    ip = r.json() if r.ok else None
    if ip is None:
        R["errors"].append(f"in-process: {r.error()}")
    else:
        R["inproc"] = {
            "import_s": ip["import_s"], "open_s": ip["open_s"], "maxrss_mb": ip["maxrss_mb"],
            "defs_p50_ms": median(ip["defs"]["ms"]), "defs_p95_ms": pct(ip["defs"]["ms"], 95),
            "defs_max_ms": max(ip["defs"]["ms"], default=None), "defs_first_p50_ms": median(ip["defs"]["first_ms"]),
            "defs_results_p50": median(ip["defs"]["results"]), "defs_errors": ip["defs"]["errors"],
            "callers_p50_ms": median(ip["callers"]["ms"]), "callers_p95_ms": pct(ip["callers"]["ms"], 95),
            "callers_max_ms": max(ip["callers"]["ms"], default=None),
            "callers_first_p50_ms": median(ip["callers"]["first_ms"]),
            "callers_results_p50": median(ip["callers"]["results"]), "callers_errors": ip["callers"]["errors"],
            "n_defs": len(ip["defs"]["ms"]), "n_callers": len(ip["callers"]["ms"]),
            "warm_update_s": median([w[0] for w in ip["warm"]]), "warm_update_result": ip["warm"][0][1] if ip["warm"] else None,
        }
        for key in ("heavy_def", "heavy_callee"):
            if key in ip:
                R["inproc"][key + "_ms"] = median(ip[key]["ms"])
                R["inproc"][key + "_results"] = ip[key]["results"][0] if ip[key]["results"] else None
        for kind in edit_files:
            e = [x for x in ip["edits"] if f"_{kind}_" in x["name"] or f"_{kind}_" in x["name"].lower()]
            if e:
                R["inproc"][f"update_{kind}_s"] = median([x["s"] for x in e])
                R["inproc"][f"update_{kind}_found"] = [x["found"] for x in e]
                R["inproc"][f"update_{kind}_result"] = e[0]["update_result"]

    # ---- one-file update through the CLI, then check the new function is found
    for kind, (path, lang) in edit_files.items():
        times, reported, updated, found = [], [], [], []
        for i in range(runs):
            name = append_function(root / path, lang, f"bench_cli_{kind}_{i}_{stamp}")
            r = runner.run(index_cmd())
            if not r.ok or r.json() is None:
                R["errors"].append(f"update ({kind}): {r.error()}")
                break
            times.append(r.wall)
            reported.append(r.json().get("seconds"))
            updated.append(r.json().get("updated_files"))
            q = runner.run([cli, "--repo", str(root), "--index", str(db), "defs", name, "--json"])
            hits = q.json() if q.ok else None
            found.append(len(hits) if isinstance(hits, list) else f"error: {q.error()}")
        if times:
            R[f"update_{kind}_s"] = median(times)
            R[f"update_{kind}_reported_s"] = median(reported)
            R[f"update_{kind}_updated_files"] = updated
            R[f"update_{kind}_found"] = found

    # ---- end to end CLI queries
    def e2e(sub, items):
        times, errs = [], []
        for _ in range(runs):
            for n in items:
                r = runner.run([cli, "--repo", str(root), "--index", str(db), sub, n, "--json"])
                if not r.ok:
                    errs.append(r.error())
                    continue
                times.append(r.wall)
        return times, errs

    k = args.cli_names
    t, errs = e2e("defs", names["defs"][:k])
    R["cli_defs_s"], R["cli_defs_p95_s"] = median(t), pct(t, 95)
    R["errors"] += [f"cli defs: {e}" for e in errs[:2]]
    t, errs = e2e("callers", names["callers"][:k])
    R["cli_callers_s"], R["cli_callers_p95_s"] = median(t), pct(t, 95)
    R["errors"] += [f"cli callers: {e}" for e in errs[:2]]

    R["loadavg_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    # ---- floors: interpreter start-up, importing the CLI, `repo-rlm --help`
    R["floor_python_s"] = median([runner.run([py, "-c", "pass"]).wall for _ in range(runs)])
    R["floor_import_cli_s"] = median([runner.run([py, "-c", "import repo_rlm.cli"]).wall for _ in range(runs)])
    R["floor_help_s"] = median([runner.run([cli, "--help"]).wall for _ in range(runs)])
    return R


# --------------------------------------------------------------------------------------------
# reporting


def _f(x, unit="", digits=2):
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.{digits}f}{unit}"
    return f"{x}{unit}"


def _ok(value, limit):
    if value is None:
        return "n/a"
    return "ok" if value <= limit else "**MISS**"


def table(R: dict) -> str:
    T = TARGETS
    ct = R.get("ctags_s")
    idx = R.get("index") or {}
    ip = R.get("inproc") or {}
    langs = ", ".join(f"{k} {v}" for k, v in sorted((idx.get("languages") or {}).items(), key=lambda kv: -kv[1]))

    def ratio(x):
        return f"{x / ct:.1f}x" if (x is not None and ct) else ""

    out = [f"### {R['label']}", "",
           f"Tree: {R.get('tree_files')} files, {R.get('tree_mb', 0):.1f} MB (excluding .git); "
           f"indexed: {idx.get('files', 'n/a')} files"
           + (f", {R['indexed_mb']:.1f} MB" if R.get("indexed_mb") is not None else "")
           + f", {idx.get('symbols', 'n/a')} symbols, {idx.get('calls', 'n/a')} calls"
           + (f" ({langs})" if langs else "") + f"; ctags tags: {R.get('ctags_tags', 'n/a')}; "
           f"index DB {_f(R.get('db_mb'), ' MB', 1)}; {R.get('cpus')} CPUs; load average "
           f"{_f(R.get('loadavg_start'), '', 1)} at start, {_f(R.get('loadavg_end'), '', 1)} at end "
           f"(other work on the machine inflates wall times; CPU times are steadier); "
           f"repo_rlm sources {R.get('repo_rlm_sources')}.", "",
           "| measurement | value | target | vs ctags | status |", "| --- | ---: | ---: | ---: | --- |"]

    def row(name, value, target="", vs="", status=""):
        out.append(f"| {name} | {value} | {target} | {vs} | {status} |")

    row("ctags -R (baseline, wall)", _f(ct, " s"), "", "1.0x" if ct else "", "")
    c = R.get("cold_s")
    row("cold index (CLI wall)", _f(c, " s"), f"<= {T['cold_ratio']:.0f}x ctags" + (f" ({T['cold_ratio'] * ct:.2f} s)" if ct else ""),
        ratio(c), _ok(c / ct if (c and ct) else None, T["cold_ratio"]))
    row("cold index (reported `seconds`)", _f(R.get("cold_reported_s"), " s"), "", ratio(R.get("cold_reported_s")), "")
    cs = R.get("cold_cached_s")
    row(f"fresh index DB, warm fact cache ({R.get('cold_cached_hits')} hits; another clone at the same commit)",
        _f(cs, " s"), "", ratio(cs) + (f"; {cs / c:.0%} of cold" if cs and c else ""), "")
    cc, ctc = R.get("cold_cpu_s"), R.get("ctags_cpu_s")
    row("cold index CPU time (user+sys, all processes) / ctags CPU time", f"{_f(cc, '', 2)} / {_f(ctc, ' s', 2)}", "",
        f"{cc / ctc:.1f}x" if (cc and ctc) else "", "")
    peak = max(R.get("peak_rss_mb") or 0, R.get("peak_tree_mb") or 0) or None
    row("peak memory, largest process (max RSS)", _f(R.get("peak_rss_mb"), " MB", 0), "", "", "")
    row("peak memory, process tree (sum of PSS)", _f(R.get("peak_tree_mb"), " MB", 0), f"< {T['peak_mb']:.0f} MB",
        f"ctags {R['ctags_maxrss_mb']:.0f} MB" if R.get("ctags_maxrss_mb") else "", _ok(peak, T["peak_mb"]))
    w = R.get("warm_s")
    row(f"warm re-check, no change (CLI wall; updated {R.get('warm_updated_files')})", _f(w, " s"),
        f"< {T['warm_s']} s", ratio(w), _ok(w, T["warm_s"]))
    row("warm re-check (reported `seconds`)", _f(R.get("warm_reported_s"), " s", 3), f"< {T['warm_s']} s", "",
        _ok(R.get("warm_reported_s"), T["warm_s"]))
    row("warm re-check (in process, `Repo.update()`)", _f(ip.get("warm_update_s"), " s", 3), f"< {T['warm_s']} s", "",
        _ok(ip.get("warm_update_s"), T["warm_s"]))
    for kind in ("typical", "hub"):
        if f"update_{kind}_s" not in R and f"update_{kind}_s" not in ip:
            continue
        path = (R.get("edit_files") or {}).get(kind, "?")
        u = R.get(f"update_{kind}_s")
        row(f"one-file update, {kind} file `{path}` (CLI wall; updated {R.get(f'update_{kind}_updated_files')}, "
            f"new def found {R.get(f'update_{kind}_found')})", _f(u, " s"), f"< {T['update_s']} s",
            ratio(u) + (" (ctags has no incremental mode)" if u and ct else ""), _ok(u, T["update_s"]))
        row(f"one-file update, {kind} (reported `seconds`)", _f(R.get(f"update_{kind}_reported_s"), " s", 3),
            f"< {T['update_s']} s", "", _ok(R.get(f"update_{kind}_reported_s"), T["update_s"]))
        row(f"one-file update, {kind} (in process; found {ip.get(f'update_{kind}_found')})",
            _f(ip.get(f"update_{kind}_s"), " s", 3), f"< {T['update_s']} s", "", _ok(ip.get(f"update_{kind}_s"), T["update_s"]))
    row(f"`find_defs` in process, median / p95 / max ({ip.get('n_defs', 0)} names, median {_f(ip.get('defs_results_p50'))} hits)",
        f"{_f(ip.get('defs_p50_ms'), '', 2)} / {_f(ip.get('defs_p95_ms'), '', 2)} / {_f(ip.get('defs_max_ms'), ' ms', 2)}",
        f"< {T['query_ms']:.0f} ms", "", _ok(ip.get("defs_p95_ms"), T["query_ms"]))
    row(f"`callers_of` in process, median / p95 / max ({ip.get('n_callers', 0)} qualnames, median {_f(ip.get('callers_results_p50'))} hits)",
        f"{_f(ip.get('callers_p50_ms'), '', 2)} / {_f(ip.get('callers_p95_ms'), '', 2)} / {_f(ip.get('callers_max_ms'), ' ms', 2)}",
        f"< {T['query_ms']:.0f} ms", "", _ok(ip.get("callers_p95_ms"), T["query_ms"]))
    hs = R.get("names_sample") or {}
    if ip.get("heavy_def_ms") is not None:
        row(f"`find_defs` worst name `{hs['heavy_def'][0]}` ({ip.get('heavy_def_results')} hits)",
            _f(ip.get("heavy_def_ms"), " ms"), f"< {T['query_ms']:.0f} ms", "", _ok(ip.get("heavy_def_ms"), T["query_ms"]))
    if ip.get("heavy_callee_ms") is not None:
        row(f"`callers_of` worst name `{hs['heavy_callee'][0]}` ({ip.get('heavy_callee_results')} hits)",
            _f(ip.get("heavy_callee_ms"), " ms"), f"< {T['query_ms']:.0f} ms", "", _ok(ip.get("heavy_callee_ms"), T["query_ms"]))
    row("`Repo.open(update=False)` / `import repo_rlm.query.repo` (in process)",
        f"{_f(ip.get('open_s'), '', 3)} / {_f(ip.get('import_s'), ' s', 3)}", "", "", "")
    row("`repo-rlm defs NAME --json` end to end (median / p95)",
        f"{_f(R.get('cli_defs_s'), '', 2)} / {_f(R.get('cli_defs_p95_s'), ' s', 2)}", f"< {T['cli_query_s']} s", "",
        _ok(R.get("cli_defs_s"), T["cli_query_s"]))
    row("`repo-rlm callers SYM --json` end to end (median / p95)",
        f"{_f(R.get('cli_callers_s'), '', 2)} / {_f(R.get('cli_callers_p95_s'), ' s', 2)}", f"(< {T['cli_query_s']} s)", "",
        _ok(R.get("cli_callers_s"), T["cli_query_s"]))
    row("floor: `python -c pass` / `import repo_rlm.cli` / `repo-rlm --help`",
        f"{_f(R.get('floor_python_s'), '', 3)} / {_f(R.get('floor_import_cli_s'), '', 3)} / {_f(R.get('floor_help_s'), ' s', 3)}",
        "", "", "")
    if R.get("errors"):
        out += ["", "Errors:"] + [f"- {e}" for e in R["errors"]]
    return "\n".join(out) + "\n"


def summary(results: list[dict]) -> str:
    out = ["### Summary", "",
           "| tree | files | MB | symbols | calls | ctags s | cold s | cold/ctags | cold ms/file | warm s | update s (typical / hub) | "
           "defs p50/p95 ms | callers p50/p95 ms | CLI defs s | peak MB | peak MB/1k files |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
           "| target | | | | | 1x | | <= 5x | flat | < 0.3 | < 0.3 | < 5 | < 5 | < 0.5 | < 1024 | flat |"]
    for R in results:
        idx = R.get("index") or {}
        ip = R.get("inproc") or {}
        ct, c = R.get("ctags_s"), R.get("cold_s")
        n = idx.get("files") or R.get("tree_files")
        peak = max(R.get("peak_rss_mb") or 0, R.get("peak_tree_mb") or 0) or None
        out.append(
            f"| {R['label']} | {idx.get('files', R.get('tree_files'))} | {_f(R.get('indexed_mb') or R.get('tree_mb'), '', 1)} | "
            f"{idx.get('symbols', 'n/a')} | {idx.get('calls', 'n/a')} | {_f(ct)} | {_f(c)} | "
            f"{(f'{c / ct:.1f}x' if c and ct else 'n/a')} | {_f(1000 * c / n if c and n else None)} | {_f(R.get('warm_s'))} | {_f(R.get('update_typical_s'))} / {_f(R.get('update_hub_s'))} | "
            f"{_f(ip.get('defs_p50_ms'))}/{_f(ip.get('defs_p95_ms'))} | {_f(ip.get('callers_p50_ms'))}/{_f(ip.get('callers_p95_ms'))} | "
            f"{_f(R.get('cli_defs_s'))} | {_f(peak, '', 0)} | {_f(1000 * peak / n if peak and n else None, '', 1)} |")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("paths", nargs="*", type=Path, help="repositories to measure (never modified: a copy is used)")
    ap.add_argument("--synthetic", help="comma-separated file counts of synthetic monorepos, e.g. 1000,4000,16000")
    ap.add_argument("--runs", type=int, default=3, help="repetitions of each timed step (median reported); default 3")
    ap.add_argument("--queries", type=int, default=50, help="names for in-process query timing; default 50")
    ap.add_argument("--cli-names", type=int, default=5, help="names for end-to-end CLI query timing; default 5")
    ap.add_argument("--json", action="store_true", help="print the results as JSON on stdout (the tables go to stderr)")
    ap.add_argument("--json-file", metavar="FILE", help="also write the results as JSON to FILE")
    ap.add_argument("--repo-rlm", dest="cli", help="the repo-rlm executable (default: next to this Python, then PATH)")
    ap.add_argument("--work-dir", type=Path, help="where copies, synthetic trees and index files go (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--cpus", type=int, help="pin the measured processes to this many CPUs")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=3600, help="seconds before a single command is killed")
    ap.add_argument("--revisions", action="store_true",
                    help="git trees: also a second clone at another commit (warm fact cache) and a checkout + update, "
                         "against that commit's cold build")
    ap.add_argument("--other-rev", help="the other commit for --revisions (default: the furthest of HEAD~25, ~50, ... "
                                        "whose diff touches at most --diff-share of the files)")
    ap.add_argument("--diff-share", type=float, default=0.05, help="for --revisions; default 0.05")
    ap.add_argument("--executors", action="store_true", help="also cold builds with --executor process vs ray")
    ap.add_argument("--only-cache", action="store_true",
                    help="skip the per-tree query/update measurements; run only --revisions / --executors")
    args = ap.parse_args(argv)
    if not args.paths and not args.synthetic:
        ap.error("give a PATH or --synthetic N[,N...]")
    if args.only_cache and not (args.revisions or args.executors):
        ap.error("--only-cache needs --revisions or --executors")
    for p in args.paths:
        if not p.is_dir():
            ap.error(f"not a directory: {p}")
    sizes = []
    if args.synthetic:
        try:
            sizes = [int(s) for s in args.synthetic.split(",") if s.strip()]
        except ValueError:
            ap.error("--synthetic takes comma-separated integers")

    cli = find_cli(args.cli)
    py = find_python(cli)
    env = {k: v for k, v in os.environ.items() if k != "REPO_RLM_INDEX"}
    runner = Runner(args.timeout, args.cpus, env)
    log(f"repo-rlm: {cli or 'NOT FOUND'}; python for in-process timing: {py}")
    if not compile_bytecode(py):
        log("could not compile repo_rlm's bytecode ahead: CLI walls may include compiling it")
    if args.work_dir:
        args.work_dir.mkdir(parents=True, exist_ok=True)
        base = Path(tempfile.mkdtemp(prefix="bench-", dir=args.work_dir))
    else:
        base = Path(tempfile.mkdtemp(prefix="repo-rlm-bench-"))
    runner.env["REPO_RLM_FACT_CACHE"] = str(base / "fact-cache")  # the bench's own, emptied where a run must be cold
    results, extra = [], []
    try:
        for i, p in enumerate(args.paths):
            work = base / f"repo{i}"
            work.mkdir()
            log(f"copying {p} ...")
            t = time.perf_counter()
            root, how = prepare_copy(p.resolve(), work)
            log(f"copied with {how} in {time.perf_counter() - t:.1f} s")
            if not args.only_cache:
                R = bench_tree(p.resolve().name, root, work, args, runner, cli, py)
                R["source"], R["copied_with"] = str(p.resolve()), how
                results.append(R)
                print(table(R), file=sys.stderr if args.json else sys.stdout, flush=True)
            if args.revisions and cli and (root / ".git").exists():
                X = bench_revisions(p.resolve().name, root, work, args, runner, cli)
                extra.append(X)
                print(revisions_table(X), file=sys.stderr if args.json else sys.stdout, flush=True)
            if args.executors and cli:
                X = bench_executors(p.resolve().name, root, work, args, runner, cli)
                extra.append(X)
                print(executors_table(X), file=sys.stderr if args.json else sys.stdout, flush=True)
        for n in sizes:
            work = base / f"synthetic{n}"
            work.mkdir()
            t = time.perf_counter()
            root = generate_synthetic(n, work / "tree", seed=args.seed)
            log(f"generated synthetic tree of {n} files in {time.perf_counter() - t:.1f} s")
            R = bench_tree(f"synthetic-{n}", root, work, args, runner, cli, py)
            results.append(R)
            print(table(R), file=sys.stderr if args.json else sys.stdout, flush=True)
        if len(results) > 1:
            print(summary(results), file=sys.stderr if args.json else sys.stdout, flush=True)
        doc = json.dumps({"targets": TARGETS, "results": results, "cache_and_executors": extra}, indent=2, default=str)
        if args.json:
            print(doc)
        if args.json_file:
            Path(args.json_file).write_text(doc + "\n")
    finally:
        if args.keep:
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 0 if all(r.get("cold_s") for r in results) and not any(x["errors"] for x in extra) else 1


if __name__ == "__main__":
    sys.exit(main())
