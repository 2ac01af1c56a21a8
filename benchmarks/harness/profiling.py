"""Sampling the gunicorn workers with py-spy while a scenario runs, and a plain-text summary
of where a request's time goes (`pip install py-spy` into the venv; Linux, needs ptrace)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def start(
    pids: list[int], seconds: float, folder: Path, label: str, *, wall: bool = True
) -> list[subprocess.Popen[bytes]]:
    """One py-spy per worker. `wall`: sample waiting too (--idle), so time spent waiting on
    PostgreSQL or Redis shows; else only on-CPU time, which is what two shared cores run out of."""
    binary = py_spy()
    if binary is None:
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
    folder.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [
                binary, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
                "--rate", "200", *(["--idle"] if wall else []), "--format", "raw",
                "--output", str(folder / f"{label}-{pid}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in pids
    ]  # fmt: skip


def _short(frame: str) -> str:
    match = FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "/app/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "/app/":
                path = "app/" + path
            break
    return f"{match['func']} ({path})"


def summarize(files: list[Path], top: int = 30, *, wall: bool = True) -> str:
    """Inclusive and self share of the samples taken inside a request (Flask's wsgi_app)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    requests = 0
    for file in files:
        if not file.exists():
            continue
        for line in file.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not count_text.isdigit():
                continue
            frames = stack.split(";")
            try:
                start = next(i for i, f in enumerate(frames) if "wsgi_app (" in f)
            except StopIteration:
                continue  # a worker waiting for the next connection
            count = int(count_text)
            requests += count
            inside = [_short(f) for f in frames[start:]]
            for name in set(inside):
                inclusive[name] += count
            own[inside[-1]] += count
    if not requests:
        return "no samples inside a request (was py-spy allowed to attach?)"
    kind = "wall clock, incl. waiting" if wall else "on CPU only"
    out = [f"{requests} samples inside requests ({kind})", "", "inclusive:"]
    out += [f"  {n / requests:6.1%}  {name}" for name, n in inclusive.most_common(top)]
    out += ["", "self (leaf frames):"]
    out += [f"  {n / requests:6.1%}  {name}" for name, n in own.most_common(top // 2)]
    return "\n".join(out)
