#!/usr/bin/env python3
"""Clients that never read their replies: does the server's memory stay bounded?

Starts a tcpmodes server (the echo handler, raw framing) on a free port,
connects N clients (500 by default), reads the server's resident memory
(VmRSS in /proc/PID/status, so Linux only), then has every client send
1 KiB requests as fast as the kernel takes them for SECONDS (5 by default)
without ever reading a reply, and reads the memory again. A server that
queued every reply would grow by what the kernel's buffers do not hold; one
that stops reading a client whose replies are not taken (back-pressure)
grows by about one read's worth of replies per client. Prints one line.

    python3 scripts/never_read.py target/release/tcpmodes event [CLIENTS] [SECONDS]

The default open-file limit (often 1024) allows 500 clients; raise it with
`ulimit -n` for more.
"""
import re
import signal
import socket
import subprocess
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    binary, mode = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 5
    server = subprocess.Popen(
        [binary, "--mode", mode, "--addr", "127.0.0.1:0", "--max-connections", str(2 * n)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        host, port = re.search(r"Listening on (\S+)", server.stdout.readline()).group(1).rsplit(":", 1)
        clients = [socket.create_connection((host, int(port)), timeout=10) for _ in range(n)]
        time.sleep(0.5)
        before = rss_kib(server.pid)
        for c in clients:
            c.setblocking(False)
        request, sent, end = b"x" * 1024, 0, time.time() + seconds
        while time.time() < end:
            progress = False
            for c in clients:
                try:
                    sent += c.send(request)
                    progress = True
                except BlockingIOError:
                    pass
            if not progress:
                time.sleep(0.05)
        time.sleep(1)
        after = rss_kib(server.pid)
        print(f"{mode}: {n} clients sent {sent / 1e6:.1f} MB and never read; server RSS "
              f"{before / 1024:.1f} -> {after / 1024:.1f} MiB, {(after - before) / n:.1f} KiB per client")
        for c in clients:
            c.close()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
