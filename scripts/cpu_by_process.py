"""CPU time of every process on the machine while a command runs, summed by kind of process.

    CI=true python3 scripts/cpu_by_process.py [--top 30] -- bash .ci/run

Samples each process's user + system CPU time from /proc (Linux) once a second while the
command runs, then prints the CPU seconds each kind of process used (grouped by the first of
`KINDS` its command line names, else by its first 70 characters), the most first. It sees what
a test worker does not reap: servers, Ray's daemons and workers, a fresh clone's processes. A
process started after the command is counted from its start; one that ends between two samples
is missed, as is what a process spends after its last sample: the sums are lower bounds.
Runs on the system Python (no third-party package).
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import time

KINDS = (
    "compileall",
    "gcs_server",
    "raylet",
    "ServeReplica",
    "ServeController",
    "ProxyActor",
    "haproxy",
    "default_worker",
    "ray::",
    "runtime_resources",
    "postgres",
    "chrom",
    "mlflow server",
    "dagster-webserver",
    "dagster-daemon",
    "dagster api",
    "mlops up",
    "mlops serve",
    "mlops ",
    "import sys;exec(eval(sys.stdin.readline()))",  # a pytest-xdist worker
    "pytest",
    "uv ",
)


def sample(seen: dict[tuple[int, int], dict], born: int) -> None:
    """Each process's CPU seconds so far, keyed by (pid, start time): a reused pid is another
    process. One started at or after `born` (clock ticks since boot) counts from zero."""
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = stat_fields(int(entry))
            key, cpu = (int(entry), int(fields[19])), (int(fields[11]) + int(fields[12])) / ticks
            if key not in seen:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
                seen[key] = {"command": command, "first": 0.0 if key[1] >= born else cpu}
            seen[key]["last"] = cpu
        except (OSError, IndexError, ValueError):
            continue  # the process exited meanwhile


def stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the command name (field 3 is index 0; start time is index 19)."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def kind(command: str) -> str:
    return next((k for k in KINDS if k in command), command[:70] or "(no command line)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--top", type=int, default=30, help="kinds printed (30)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command: `-- COMMAND ...`")
    seen: dict[tuple[int, int], dict] = {}
    started = time.monotonic()
    process = subprocess.Popen(command)
    born = int(stat_fields(process.pid)[19])
    while process.poll() is None:
        sample(seen, born)
        time.sleep(1)
    sample(seen, born)
    used: collections.Counter[str] = collections.Counter()
    count: collections.Counter[str] = collections.Counter()
    for p in seen.values():
        if p["last"] > p["first"]:
            used[kind(p["command"])] += p["last"] - p["first"]
            count[kind(p["command"])] += 1
    wall = time.monotonic() - started
    print(f"\n{sum(used.values()):.0f} CPU-s sampled in {wall:.0f} s (exit {process.returncode})")
    for name, seconds in used.most_common(args.top):
        print(f"{seconds:8.1f} s {count[name]:5d} processes  {name}")
    return process.returncode


if __name__ == "__main__":
    sys.exit(main())
