"""py-spy against the plugin's gunicorn workers while wrk runs one phase at a time (``--profile``).

Every worker is sampled (``py-spy record --format raw --nonblocking``, idle threads excluded, so this is
where CPU goes) for the length of the phase. The raw stacks are folded into: the leaf lines with the most
self time, the project lines (``src/scim_plugin``, ``examples/host_app``) with the most inclusive time,
and a per-library breakdown of where the leaf samples land.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

PY_SPY = str(Path(sys.executable).parent / "py-spy")
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
CATEGORIES = (
    ("scim_plugin", "scim_plugin (src)"),
    ("examples/host_app", "example host"),
    ("sqlalchemy", "SQLAlchemy"),
    ("psycopg", "psycopg"),
    ("sqlite3", "sqlite3"),
    ("werkzeug", "Werkzeug"),
    ("flask", "Flask"),
    ("json", "json"),
    ("pluggy", "pluggy"),
    ("gunicorn", "gunicorn"),
    ("copy.py", "copy (deepcopy)"),
    ("uuid", "uuid"),
)


def _short(path: str) -> str:
    for marker in ("/src/", "/examples/", "site-packages/", "/lib/python3.11/"):
        if marker in path:
            return ("examples/" if marker == "/examples/" else "") + path.split(marker, 1)[1]
    return path


def _category(frame: str) -> str:
    for needle, name in CATEGORIES:
        if needle in frame:
            return name
    return "other"


def fold(raw: str, top: int = 12) -> dict[str, Any]:
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        leaf = frames[-1]
        match = _FRAME.match(leaf)
        name = f"{match['func']} ({_short(match['file'])}:{match['line']})" if match else leaf
        self_time[name] += n
        categories[_category(leaf)] += n
        seen = set()
        for frame in frames:
            m = _FRAME.match(frame)
            if not m or not ("scim_plugin" in m["file"] or "examples/host_app" in m["file"]):
                continue
            key = f"{m['func']} ({_short(m['file'])}:{m['line']})"
            if key not in seen:
                seen.add(key)
                inclusive[key] += n
    pct = (lambda c: round(100 * c / total, 1)) if total else (lambda c: 0.0)
    return {
        "samples": total,
        "self": [(k, pct(v)) for k, v in self_time.most_common(top)],
        "project_inclusive": [(k, pct(v)) for k, v in inclusive.most_common(top * 2)],
        "categories": [(k, pct(v)) for k, v in categories.most_common()],
    }


def profile_workers(
    server: Any,
    kind: str,
    phases: list[str],
    args: Any,
    work: Path,
    data_for: Callable[[str], Path],
    token: str,
    run_wrk: Callable[..., dict[str, Any]],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    seconds = max(args.duration, 5.0)
    for phase in phases:
        source = data_for(phase)
        pids = server.worker_pids()
        files = [work / f"pyspy-{phase}-{pid}.txt" for pid in pids]
        spies = [
            subprocess.Popen(
                [
                    PY_SPY,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    f"{seconds:.0f}",
                    "--rate",
                    "100",
                    "--nonblocking",
                    "--format",
                    "raw",
                    "--output",
                    str(path),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for pid, path in zip(pids, files, strict=True)
        ]
        time.sleep(0.3)
        load = run_wrk(server.url, phase, source, token, seconds, args, f"prof{phase}")
        for spy in spies:
            try:
                spy.wait(timeout=seconds + 30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
        raw = "\n".join(path.read_text() for path in files if path.exists())
        out[phase] = {"load": load, **fold(raw)}
        print(
            f"\n-- py-spy {kind} {phase}: {load['rps']} req/s under profiling, "
            f"{out[phase]['samples']} samples"
        )
        print("   by library (leaf): " + ", ".join(f"{k} {v}%" for k, v in out[phase]["categories"][:8]))
        print("   project lines, inclusive:")
        for key, value in out[phase]["project_inclusive"][:14]:
            print(f"     {value:5.1f}%  {key}")
        print("   leaf lines, self:")
        for key, value in out[phase]["self"][:6]:
            print(f"     {value:5.1f}%  {key}")
    return out
