"""The measuring parent: one fresh process per run, its wall time, CPU time (user+sys of the child
and of what it waited for) and peak RSS from ``os.wait4``; what it loaded or wrote."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness.counting import count_report
from harness.peers import Unsupported, cli_command, cli_versions
from harness.tasks import OUT, REPO, TARGET_OF


def _rss_now(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _peak_rss_and_wait(proc: subprocess.Popen, timeout: float,
                       max_rss: float) -> tuple[int | None, int, str | None, float]:
    """(exit status, peak RSS in bytes, why it was cut off, CPU seconds) of a child, from its rusage.

    A child past ``max_rss`` is killed before the kernel's OOM killer picks a victim on a machine
    other people share.
    """
    deadline = time.monotonic() + timeout
    polls = 0
    while True:
        polls += 1
        if polls % 10 == 0 and _rss_now(proc.pid) > max_rss:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = -9
            return None, usage.ru_maxrss * 1024, f"killed: RSS over {max_rss / 2**30:.0f} GiB", usage.ru_utime + usage.ru_stime
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_maxrss * 1024, None, usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = -9
            return None, usage.ru_maxrss * 1024, f"timeout (> {timeout:.0f} s)", usage.ru_utime + usage.ru_stime
        time.sleep(0.02)


def _python_for(tool: str, args: argparse.Namespace) -> str | None:
    if tool == "detlint":
        return sys.executable
    python = Path(args.peers_python)
    return str(python) if python.exists() else None


def _command(tool: str, task: str, root: Path, out: Path, args: argparse.Namespace) -> list[str] | None:
    python = _python_for(tool, args)
    if python is None:
        return None
    cli = cli_command(tool, task, root, out, args.peers_python)
    if cli is not None:
        return cli if Path(cli[0]).exists() else None
    return [python, str(Path(__file__).resolve().parent.parent / "run.py"), "--child", tool, task, str(root), str(out)]


def run_once(tool: str, task: str, root: Path, out: Path, args: argparse.Namespace) -> dict:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    try:
        cmd = _command(tool, task, root, out, args)
    except Unsupported as why:
        return {"status": f"not supported: {why}"}
    if cmd is None:
        return {"status": "not installed"}
    is_child = "--child" in cmd
    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONHASHSEED": "0", "NO_COLOR": "1",
           "DETLINT_CACHE_DIR": str(OUT / "cache")}  # warm-check tasks only; cold ones pass --no-cache
    # Installed peers have .pyc files; detlint runs from source, so let it keep its bytecode too
    # (compiled once by run_scale), as an installed detlint would.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    stdout_path, stderr_path = out.parent / f"{out.name}.stdout", out.parent / f"{out.name}.stderr"
    load_before = os.getloadavg()[0]
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, cwd=REPO, env=env)
        code, rss, cut_off, cpu = _peak_rss_and_wait(proc, args.timeout, args.max_rss_gib * 2**30)
        wall = time.perf_counter() - start
    record = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "peak_rss": rss, "load1": round(load_before, 2)}
    if cut_off:
        record["status"] = cut_off
        return record
    if code == -9:
        record["status"] = "killed by SIGKILL (the kernel's out-of-memory killer on this machine)"
        return record
    # a checker exits 1 when it finds errors (detlint, panlabel validate, hotcoco healthcheck)
    if code != 0 and not (code == 1 and task.startswith("check_")):
        tail = (stderr_path.read_text(errors="replace").strip() or stdout_path.read_text(errors="replace").strip())
        record["status"] = f"failed (exit {code}): " + " | ".join(tail.splitlines()[-3:])[-300:]
        return record
    record["status"] = "ok"
    record["exit"] = code
    if is_child:
        lines = stdout_path.read_text().strip().splitlines()
        try:
            record.update(json.loads(lines[-1]))
        except (IndexError, json.JSONDecodeError):
            record["status"] = "failed: no result line"
            return record
        if record.get("helpers_rss"):
            record["peak_rss"] = record["self_rss"] + record["helpers_rss"]  # both peaks, as if at once
    else:
        record["op_s"] = record["wall_s"]  # a program of its own: no inner timing
        record["versions"] = cli_versions(tool, args.peers_python)
    if task.startswith("check_") and tool in ("detlint", "panlabel", "hotcoco"):
        report = out / "report.json" if tool == "detlint" else stdout_path
        record.update(count_report(tool, report))
    if task in TARGET_OF:
        record.update(count_report(f"output:{TARGET_OF[task]}", out))
    return record


def summarize(runs: list[dict]) -> dict:
    ok = [r for r in runs if r.get("status") == "ok"]
    if not ok:
        return {"status": runs[-1].get("status", "failed") if runs else "not run", "runs": runs}
    summary = {"status": "ok", "n": len(ok),
               "wall_s": statistics.median(r["wall_s"] for r in ok),
               "op_s": statistics.median(r["op_s"] for r in ok),
               "cpu_s": statistics.median(r["cpu_s"] for r in ok),
               "peak_rss": statistics.median(r["peak_rss"] for r in ok),
               "wall_min_s": min(r["wall_s"] for r in ok),
               "load1": statistics.median(r["load1"] for r in ok),
               "runs": runs}
    for key in ("images", "boxes", "findings", "by_code", "versions", "problems", "exit"):
        if key in ok[-1]:
            summary[key] = ok[-1][key]
    return summary
