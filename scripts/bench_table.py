#!/usr/bin/env python3
"""Regenerates the measured tables of modes/README.md.

    python3 scripts/bench_table.py [--duration SECS] [--repeat N] [--idle N] > table.md

Builds the release binaries, then for 1, 4, 64 and 512 clients (64-byte
messages, echo, delay 0, raw framing) runs `tcpmodes bench` against:

  * three yardsticks, hand-written with no tcpmodes code:
    baseline (examples/baseline.rs: std, a thread per connection),
    mio (examples/mio_baseline.rs: one event loop, and one per CPU),
    tokio (examples/tokio_baseline.rs: a task per connection);
  * every mode `tcpmodes --help` lists, so a new mode joins by itself:
    threads, pool with one worker per client and with one per CPU, serial,
    and any other mode with its defaults;

each server in its own process on a free loopback port, the servers taking
turns within each repetition; then a churn row (2,000 clients, a new
connection per message) for each; then, against the baseline, the plain
blocking client at 1, 4 and 64 clients, which the generator must match;
then the idle table: N connections (10,000 by default, fewer if the
descriptor limit says so) opened, greeted and held in silence, and each
server's resident memory and threads meanwhile (`tcpmodes bench --idle N
--pid PID`; one run each, memory does not jitter like throughput). Prints
Markdown: the machine, the exact command lines, and the tables, every ratio
against the baseline measured in the same run.

Runtime: about 10 minutes on 2 cores with the defaults and the 11 servers
of today (each load figure is --repeat runs of --duration seconds plus a
0.5 s warm-up and start-up; the idle table takes about a minute);
`--repeat 1 --duration 1` takes about 3 minutes; `--tables idle` only the
idle table.
"""

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
BIN = os.path.join(RELEASE, "tcpmodes")
BASELINE = os.path.join(RELEASE, "examples", "baseline")
MIO = os.path.join(RELEASE, "examples", "mio_baseline")
TOKIO = os.path.join(RELEASE, "examples", "tokio_baseline")
BLOCKING = os.path.join(RELEASE, "examples", "blocking_client")
CLIENTS = [1, 4, 64, 512]
CHURN_CLIENTS = 2000
CPUS = os.cpu_count() or 1
ADDR = "127.0.0.1:0"
TABLES = ["load", "churn", "generator", "idle"]
# Threads mode's cap on connections: above any --idle this script runs.
THREADS_CAP = 20000


def start(cmd):
    """Starts a server, returns (process, address) from its first line."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    if not line.startswith("Listening on "):
        p.kill()
        sys.exit(f"server did not start: {' '.join(cmd)}: {line!r}")
    return p, line.split()[2]


def stop(p):
    p.terminate()
    try:
        p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


# Runs that measured nothing and were run again: printed under the tables,
# so a figure that needed a second try is never passed off as a first.
RETRIED = []


def bench(addr, clients, duration, churn=False):
    """One `tcpmodes bench` run's report, or None when it measured nothing
    (bench exits 1 for that even with --allow-errors)."""
    cmd = [BIN, "bench", "--addr", addr, "--clients", str(clients), "--duration",
           str(duration), "--warmup", "0.5", "--size", "64", "--format", "json",
           "--allow-errors"]
    if churn:
        cmd.append("--churn")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration * 10 + 60)
    if out.returncode != 0:
        print(f"bench failed: {' '.join(cmd)}: {out.stderr.strip()}", file=sys.stderr)
        return None
    return json.loads(out.stdout)


def idle(addr, pid, n):
    """`bench --idle`: n silent connections held for a second; the report."""
    cmd = [BIN, "bench", "--addr", addr, "--idle", str(n), "--pid", str(pid), "--hold", "1",
           "--timeout-ms", "1000", "--format", "json", "--allow-errors"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=n / 100 + 60)
    if out.returncode != 0:
        sys.exit(f"bench --idle failed: {' '.join(cmd)}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def blocking(addr, clients, duration):
    out = subprocess.run([BLOCKING, "--addr", addr, "--clients", str(clients),
                          "--duration", str(duration)],
                         capture_output=True, text=True, timeout=duration * 10 + 60)
    fields = dict(kv.split("=", 1) for kv in out.stdout.split()[1:])
    return float(fields["msgs_per_sec"]), int(fields["errors"])


def modes():
    """The values of `--mode` in `tcpmodes --help`, in its order: clap
    prints them as `[possible values: a, b]`, or one `- a: ...` line each
    in long help."""
    text = subprocess.run([BIN, "--help"], capture_output=True, text=True, check=True).stdout
    block = re.search(r"--mode <MODE>(.*?)(?=\n\s*(?:-\w, )?--\w|\Z)", text, re.S)
    if not block:
        sys.exit("tcpmodes --help shows no --mode")
    listed = re.search(r"\[possible values: ([^\]]+)\]", block.group(1))
    if listed:
        return [m.strip() for m in listed.group(1).split(",")]
    found = re.findall(r"^\s*- ([\w-]+)", block.group(1), re.M)
    if not found:
        sys.exit("tcpmodes --help lists no modes")
    return found


def servers(mode_names):
    """(label, command) for every server; `{c}` in a command is the number
    of clients. Yardsticks first, the baseline (every ratio's reference)
    before all."""
    s = [("baseline", [BASELINE, "--addr", ADDR]),
         ("mio, 1 loop", [MIO, "--addr", ADDR])]
    if CPUS > 1:
        s.append((f"mio, {CPUS} loops", [MIO, "--addr", ADDR, "--loops", str(CPUS)]))
    s.append(("tokio", [TOKIO, "--addr", ADDR]))
    for mode in mode_names:
        cmd = [BIN, "-q", "--addr", ADDR, "--mode", mode, "--backlog", "4096"]
        if mode == "threads":
            s.append(("threads", cmd + ["--max-connections", str(THREADS_CAP)]))
        elif mode == "pool":
            s.append(("pool, workers = clients", cmd + ["--workers", "{c}"]))
            s.append((f"pool, {CPUS} workers", cmd + ["--workers", str(CPUS)]))
        else:
            s.append((mode, cmd))
    return s


def with_clients(cmd, clients):
    return [a.replace("{c}", str(clients)) for a in cmd]


def measure(label, cmd, clients, duration, churn=False):
    """One run against a fresh server; a run that measured nothing is run
    once more against another fresh server, and noted in RETRIED; None if
    that one measured nothing either (the figure is then the median of the
    other runs, and the row says so)."""
    for attempt in range(2):
        p, addr = start(with_clients(cmd, clients))
        try:
            report = bench(addr, clients, duration, churn)
        finally:
            stop(p)
        if report is not None:
            return report
        RETRIED.append(f"{label}, {clients} clients{', churn' if churn else ''}")
    return None


def fmt_rate(r):
    return f"{r:,.0f}"


def raise_fd_limit():
    """Soft descriptor limit up to the hard one, for this script and the
    servers it starts (they inherit it); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        want = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (ValueError, OSError):
            pass
    return soft


def print_header(args, table):
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    d = args.duration
    print(f"Measured {time.strftime('%Y-%m-%d')} on {CPUS} CPUs ({cpu}), "
          f"{platform.system()} {platform.release()}, release build; server and "
          f"generator on the same machine, over loopback.\n")
    print("Command lines (ADDR is the server's first stdout line, PID its process):\n")
    print("```")
    for label, cmd in table:
        print(f"{label}: {' '.join(os.path.relpath(a, ROOT) if a.startswith(ROOT) else a for a in cmd)}")
    print(f"bench: target/release/tcpmodes bench --addr ADDR --clients N --duration {d:g} "
          f"--warmup 0.5 --size 64 --format json --allow-errors [--churn]")
    print("blocking client: target/release/examples/blocking_client --addr ADDR "
          f"--clients N --duration {d:g}")
    print("idle: target/release/tcpmodes bench --addr ADDR --idle N --pid PID --hold 1 "
          "--timeout-ms 1000 --format json --allow-errors")
    print("```\n")
    if set(args.tables.split(",")) & {"load", "churn", "generator"}:
        print(f"Each load figure is the median of {args.repeat} runs; the servers take turns, "
              f"so a burst of noise on the machine hits them alike.\n")


def load_table(args, table):
    print("| clients | server | answered | msgs/s | vs baseline | p50 µs | p99 µs | p99 vs baseline | errors |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for c in CLIENTS:
        runs = {label: [] for label, _ in table}
        for _ in range(args.repeat):
            for label, cmd in table:
                runs[label].append(measure(label, cmd, c, args.duration))
        base = summarize(runs[table[0][0]])
        for label, _ in table:
            m = summarize(runs[label])
            print(f"| {c} | {label} | {m['answered']} | {fmt_rate(m['rate'])} | "
                  f"{ratio(m['rate'], base['rate'])} | {m['p50']} | {m['p99']} | "
                  f"{ratio(m['p99'], base['p99'])} | {m['errors']} |", flush=True)


def churn_table(args, table):
    print(f"\nChurn: {CHURN_CLIENTS} clients, each message on a new connection "
          f"(connect, greeting, one request, close):\n")
    print("| server | connections/s | vs baseline | p50 µs | p99 µs | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    runs = {label: [] for label, _ in table}
    for _ in range(args.repeat):
        for label, cmd in table:
            runs[label].append(measure(label, cmd, CHURN_CLIENTS, args.duration, churn=True))
    base = summarize(runs[table[0][0]], churn=True)
    for label, _ in table:
        m = summarize(runs[label], churn=True)
        print(f"| {label} | {fmt_rate(m['rate'])} | {ratio(m['rate'], base['rate'])} | "
              f"{m['p50']} | {m['p99']} | {m['errors']} |", flush=True)


def generator_table(args, table):
    print("\nThe generator against the plain blocking client (both against the baseline):\n")
    print("| clients | tcpmodes bench msgs/s | blocking client msgs/s | ratio |")
    print("|---:|---:|---:|---:|")
    for c in [1, 4, 64]:
        gen, blk = [], []
        p, addr = start(table[0][1])
        try:
            for _ in range(args.repeat):
                report = bench(addr, c, args.duration)
                if report is None:
                    sys.exit(f"the generator answered nothing against the baseline at {c} clients")
                gen.append(report["msgs_per_sec"])
                blk.append(blocking(addr, c, args.duration)[0])
        finally:
            stop(p)
        g, b = statistics.median(gen), statistics.median(blk)
        print(f"| {c} | {fmt_rate(g)} | {fmt_rate(b)} | {g / b:.2f} |", flush=True)


def idle_table(n, table):
    """One idle run per server; a server that needs one worker per client
    (`{c}`) is left out: thousands of workers is not a configuration."""
    print(f"\nIdle: {n:,} connections made one after another, each greeting read, all held "
          f"for 1 s in silence; the server's resident memory (VmRSS) and threads read from "
          f"/proc/PID/status before the first connection and at the end of the hold:\n")
    print("| server | connected | greeted | threads | RSS MiB | RSS before MiB | KiB per connection | RSS vs baseline |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    base = None
    for label, cmd in table:
        if any("{c}" in a for a in cmd):
            continue
        p, addr = start(cmd)
        try:
            r = idle(addr, p.pid, n)
        finally:
            stop(p)
        held, before = r["held"], r["before"]
        if not held or not before:
            print(f"| {label} | {r['connected']:,} | {r['greeted']:,} | server gone | | | | |")
            continue
        rss = held["rss_kb"] / 1024
        base = base or rss
        per = r["kb_per_connection"]
        print(f"| {label} | {r['connected']:,} | {r['greeted']:,} | {held['threads']:,} | "
              f"{rss:,.1f} | {before['rss_kb'] / 1024:,.1f} | "
              f"{'-' if per is None else f'{per:.1f}'} | {ratio(rss, base)} |", flush=True)


def ratio(x, base):
    return f"{x / base:.2f}" if base else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=2.0, help="measured seconds per run")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (the median is shown)")
    ap.add_argument("--idle", type=int, default=10000,
                    help="connections held in the idle table (lowered to fit the descriptor limit)")
    ap.add_argument("--tables", default=",".join(TABLES),
                    help=f"which tables, comma-separated, of {','.join(TABLES)}")
    args = ap.parse_args()
    tables = [t for t in args.tables.split(",") if t]
    if not tables or any(t not in TABLES for t in tables):
        ap.error(f"--tables takes some of {','.join(TABLES)}")
    limit = raise_fd_limit()
    # Each idle connection is a descriptor in the generator and another in
    # the server; keep some for everything else.
    n = max(1, min(args.idle, limit - 64, THREADS_CAP))
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "tcpmodes",
                    "--example", "baseline", "--example", "mio_baseline",
                    "--example", "tokio_baseline", "--example", "blocking_client"],
                   cwd=ROOT, check=True)
    table = servers(modes())
    print_header(args, table)
    if n < args.idle and "idle" in tables:
        print(f"(--idle {args.idle} lowered to {n}: the descriptor limit is {limit}.)\n")
    if "load" in tables:
        load_table(args, table)
    if "churn" in tables:
        churn_table(args, table)
    if "generator" in tables:
        generator_table(args, table)
    if "idle" in tables:
        idle_table(n, table)
    if RETRIED:
        print(f"\nRuns that measured nothing (no reply at all) and were run again against a "
              f"fresh server (a second failure leaves the figure to the other runs and "
              f"`answered` at 0): {'; '.join(RETRIED)}.")


def summarize(reports, churn=False):
    """Medians over repeated runs of one server: rate, p50, p99; the
    fewest clients answered (0 when a run measured nothing); every error
    counted."""
    key = "conns_per_sec" if churn else "msgs_per_sec"
    failed = sum(r is None for r in reports)
    reports = [r for r in reports if r is not None]
    if not reports:
        return {"rate": 0, "p50": 0, "p99": 0, "answered": 0, "errors": "no result"}
    return {
        "rate": statistics.median(r[key] for r in reports),
        "p50": int(statistics.median(r["latency_us"]["p50"] for r in reports)),
        "p99": int(statistics.median(r["latency_us"]["p99"] for r in reports)),
        "answered": 0 if failed else min(r["clients_answered"] for r in reports),
        "errors": sum(r["errors"]["total"] for r in reports),
    }


if __name__ == "__main__":
    main()
