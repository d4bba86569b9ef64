#!/usr/bin/env python3
"""Regenerates the measured table of modes/README.md.

    python3 scripts/bench_table.py [--duration SECS] [--repeat N] > table.md

Builds the release binaries, then for 1, 4, 64 and 512 clients (64-byte
messages, echo, delay 0, raw framing) runs `tcpmodes bench` against:

  * the baseline (examples/baseline.rs: std-only thread per connection),
  * tcpmodes in threads mode,
  * tcpmodes in pool mode with one worker per client (clients <= workers),
  * tcpmodes in pool mode with the default workers (one per CPU),
  * tcpmodes in serial mode,

each server in its own process on a free loopback port; then a churn row
(2,000 clients, a new connection per message) for each; and, against the
baseline, the plain blocking client at 1, 4 and 64 clients, which the
generator must match. Prints Markdown: the machine, the exact command lines,
and the tables with ratios against the baseline measured in the same run.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "tcpmodes")
BASELINE = os.path.join(ROOT, "target", "release", "examples", "baseline")
BLOCKING = os.path.join(ROOT, "target", "release", "examples", "blocking_client")
CLIENTS = [1, 4, 64, 512]
CHURN_CLIENTS = 2000
CPUS = os.cpu_count() or 1


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


def bench(addr, clients, duration, churn=False):
    cmd = [BIN, "bench", "--addr", addr, "--clients", str(clients), "--duration",
           str(duration), "--warmup", "0.5", "--size", "64", "--format", "json",
           "--allow-errors"]
    if churn:
        cmd.append("--churn")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration * 10 + 60)
    if out.returncode != 0:
        sys.exit(f"bench failed: {' '.join(cmd)}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def blocking(addr, clients, duration):
    out = subprocess.run([BLOCKING, "--addr", addr, "--clients", str(clients),
                          "--duration", str(duration)],
                         capture_output=True, text=True, timeout=duration * 10 + 60)
    fields = dict(kv.split("=", 1) for kv in out.stdout.split()[1:])
    return float(fields["msgs_per_sec"]), int(fields["errors"])


SERVERS = [
    # (label, command; {c} is the number of clients)
    ("baseline", [BASELINE, "--addr", "127.0.0.1:0"]),
    ("threads", [BIN, "-q", "--addr", "127.0.0.1:0", "--mode", "threads",
                 "--backlog", "4096", "--max-connections", "4096"]),
    ("pool, workers = clients", [BIN, "-q", "--addr", "127.0.0.1:0", "--mode", "pool",
                                 "--backlog", "4096", "--workers", "{c}"]),
    (f"pool, {CPUS} workers", [BIN, "-q", "--addr", "127.0.0.1:0", "--mode", "pool",
                              "--backlog", "4096", "--workers", str(CPUS)]),
    ("serial", [BIN, "-q", "--addr", "127.0.0.1:0", "--mode", "serial", "--backlog", "4096"]),
]


def measure(label, cmd, clients, duration, churn=False):
    p, addr = start([a.replace("{c}", str(clients)) for a in cmd])
    try:
        return bench(addr, clients, duration, churn)
    finally:
        stop(p)


def fmt_rate(r):
    return f"{r:,.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=2.0, help="measured seconds per run")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (the median is shown)")
    args = ap.parse_args()
    d = args.duration
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "tcpmodes",
                    "--example", "baseline", "--example", "blocking_client"],
                   cwd=ROOT, check=True)
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    print(f"Measured {time.strftime('%Y-%m-%d')} on {CPUS} CPUs ({cpu}), "
          f"{platform.system()} {platform.release()}, release build; server and "
          f"generator on the same machine, over loopback.\n")
    print("Command lines (ADDR is the server's first stdout line):\n")
    print("```")
    for label, cmd in SERVERS:
        print(f"{label}: {' '.join(os.path.relpath(a, ROOT) if a.startswith(ROOT) else a for a in cmd)}")
    print(f"bench: target/release/tcpmodes bench --addr ADDR --clients N --duration {d:g} "
          f"--warmup 0.5 --size 64 --format json --allow-errors [--churn]")
    print(f"blocking client: target/release/examples/blocking_client --addr ADDR "
          f"--clients N --duration {d:g}")
    print("```\n")
    print(f"Each figure is the median of {args.repeat} runs; the servers take turns, "
          f"so a burst of noise on the machine hits them alike.\n")
    print("| clients | server | answered | msgs/s | vs baseline | p50 µs | p99 µs | p99 vs baseline | errors |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for c in CLIENTS:
        runs = {label: [] for label, _ in SERVERS}
        for _ in range(args.repeat):
            for label, cmd in SERVERS:
                runs[label].append(measure(label, cmd, c, d))
        base = summarize(runs[SERVERS[0][0]])
        for label, _ in SERVERS:
            m = summarize(runs[label])
            print(f"| {c} | {label} | {m['answered']} | {fmt_rate(m['rate'])} | "
                  f"{m['rate'] / base['rate']:.2f} | {m['p50']} | {m['p99']} | "
                  f"{m['p99'] / base['p99']:.2f} | {m['errors']} |", flush=True)
    print(f"\nChurn: {CHURN_CLIENTS} clients, each message on a new connection "
          f"(connect, greeting, one request, close):\n")
    print("| server | connections/s | vs baseline | p50 µs | p99 µs | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    runs = {label: [] for label, _ in SERVERS}
    for _ in range(args.repeat):
        for label, cmd in SERVERS:
            runs[label].append(measure(label, cmd, CHURN_CLIENTS, d, churn=True))
    base = summarize(runs[SERVERS[0][0]], churn=True)
    for label, _ in SERVERS:
        m = summarize(runs[label], churn=True)
        print(f"| {label} | {fmt_rate(m['rate'])} | {m['rate'] / base['rate']:.2f} | "
              f"{m['p50']} | {m['p99']} | {m['errors']} |", flush=True)
    print("\nThe generator against the plain blocking client (both against the baseline):\n")
    print("| clients | tcpmodes bench msgs/s | blocking client msgs/s | ratio |")
    print("|---:|---:|---:|---:|")
    for c in [1, 4, 64]:
        gen, blk = [], []
        p, addr = start(SERVERS[0][1])
        try:
            for _ in range(args.repeat):
                gen.append(bench(addr, c, d)["msgs_per_sec"])
                blk.append(blocking(addr, c, d)[0])
        finally:
            stop(p)
        g, b = statistics.median(gen), statistics.median(blk)
        print(f"| {c} | {fmt_rate(g)} | {fmt_rate(b)} | {g / b:.2f} |", flush=True)


def summarize(reports, churn=False):
    """Medians over repeated runs of one server: rate, p50, p99; the
    fewest clients answered; every error counted."""
    key = "conns_per_sec" if churn else "msgs_per_sec"
    return {
        "rate": statistics.median(r[key] for r in reports),
        "p50": int(statistics.median(r["latency_us"]["p50"] for r in reports)),
        "p99": int(statistics.median(r["latency_us"]["p99"] for r in reports)),
        "answered": min(r["clients_answered"] for r in reports),
        "errors": sum(r["errors"]["total"] for r in reports),
    }


if __name__ == "__main__":
    main()
