#!/usr/bin/env python3
"""The Windows build of tcpmodes under wine, driven from Linux (.ci/cross.sh).

    python3 .ci/wine_check.py DIR

DIR holds tcpmodes.exe, examples/lesson_client.exe and examples/chat.exe
(with the stand-in bcryptprimitives.dll next to each, see processprng.c).
WINEPREFIX and WINEDEBUG come from the caller. Checks, each in every mode
where it applies:

1. the lesson's transcript, byte for byte, from a Linux client (the
   lesson's client.py, as scripts/lesson_client.py runs it);
2. the Windows lesson_client example against the Windows server;
3. Ctrl+C (SIGINT to wine arrives as Ctrl+C): exit 0 with the summary;
4. shutdown with an idle client connected ends at once, not after
   shutdown_timeout_ms: the blocked reader is woken;
5. chat: a member who never reads is cut, and the room says so while the
   member is still connected: the cut wakes its reader;
6. --processes 2 and --reuse-port are refused with one line.

Timings under wine say nothing of Windows; the limits here are loose, and
only a server left waiting for good fails them. Prints one line per check
and a closing "N passed, N failed" line; exits 1 if any failed.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

MODES = ["serial", "threads", "pool", "event", "event-workers"]
TRANSCRIPT = "Welcome!\n" + "".join("Received message%d;\n" % i for i in range(1, 6))
PATIENCE = 60.0  # seconds any one step may take under wine, on a busy machine
# With an idle client, shutdown waits for nothing: under wine a woken
# server exits in well under a second; one left waiting would take the
# whole --shutdown-timeout-ms given below.
IDLE_SHUTDOWN_LIMIT = 4.0
IDLE_SHUTDOWN_TIMEOUT_MS = 30000

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print("%s  %s%s" % ("ok  " if ok else "FAIL", name, "" if ok else ": " + detail), flush=True)


class Server:
    """An .exe under wine, its address read from its first stdout line."""

    def __init__(self, exe, args):
        # Started twice at most: wine itself (not the server) has been seen
        # to end a process at start, once, right after making its prefix.
        for attempt in (1, 2):
            self.proc = subprocess.Popen(
                ["wine", exe, "--addr", "127.0.0.1:0"] + args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            self.err = []
            self.out = []
            threading.Thread(target=self._drain, args=(self.proc.stderr, self.err),
                             daemon=True).start()
            first = self.proc.stdout.readline().decode("utf-8", "replace")
            if first.startswith("Listening on "):
                break
            self.kill()
            time.sleep(0.2)
            why = "no Listening line from %s %s (exit %s): %r; stderr: %s" % (
                exe, " ".join(args), self.proc.returncode, first, self.stderr())
            if attempt == 2:
                raise RuntimeError(why)
            print("wine: %s; starting it once more" % why, flush=True)
        self.banner = first.strip()
        host, port = first.split()[2].rsplit(":", 1)
        self.addr = (host, int(port))
        threading.Thread(target=self._drain, args=(self.proc.stdout, self.out), daemon=True).start()

    @staticmethod
    def _drain(pipe, into):
        for line in iter(pipe.readline, b""):
            into.append(line.decode("utf-8", "replace"))

    def stderr(self):
        return "".join(self.err)

    def stdout(self):
        return "".join(self.out)

    def ctrl_c(self):
        """Ctrl+C (SIGINT to wine); returns (exit code, seconds to exit)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=PATIENCE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        time.sleep(0.2)  # the drain threads take the last lines
        return code, time.monotonic() - started

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def lesson_client(addr):
    """scripts/lesson_client.py's exchange; returns what it prints."""
    s = socket.create_connection(addr, timeout=PATIENCE)
    out = [s.recv(1024).decode("utf-8")]
    for data in [b"message1", b"message2", b"message3", b"message4", b"message5"]:
        s.send(data)
        out.append(s.recv(1024).decode("utf-8"))
    s.send(b"exit")
    s.close()
    return "".join(line + "\n" for line in out)


def main():
    where = sys.argv[1]
    server_exe = os.path.join(where, "tcpmodes.exe")
    client_exe = os.path.join(where, "examples", "lesson_client.exe")
    chat_exe = os.path.join(where, "examples", "chat.exe")
    for args in (["--processes", "2"], ["--reuse-port"]):
        run = subprocess.run(["wine", server_exe] + args, stdin=subprocess.DEVNULL,
                             capture_output=True, timeout=PATIENCE)
        err = run.stderr.decode("utf-8", "replace").strip()
        check("%s is refused with one line" % " ".join(args),
              run.returncode == 2 and "\n" not in err and "Windows has no SO_REUSEPORT" in err,
              "exit %s: %r" % (run.returncode, err))
    for mode in MODES:
        server = Server(server_exe, ["--mode", mode, "--workers", "2"])
        try:
            got = lesson_client(server.addr)
            check("%s: the lesson's transcript from a Linux client" % mode, got == TRANSCRIPT, repr(got))
            run = subprocess.run(
                ["wine", client_exe, "--addr", "%s:%d" % server.addr, "--count", "3"],
                stdin=subprocess.DEVNULL, capture_output=True, timeout=PATIENCE,
            )
            want = "Welcome!\nReceived message1;\nReceived message2;\nReceived message3;\n"
            got = run.stdout.decode("utf-8", "replace").replace("\r\n", "\n")
            check("%s: the Windows lesson_client against the Windows server" % mode,
                  run.returncode == 0 and got == want,
                  "exit %s, stdout %r, stderr %r" % (run.returncode, got, run.stderr[-500:]))
            code, _ = server.ctrl_c()
            summary = server.stdout()
            check("%s: Ctrl+C exits 0 with the summary" % mode,
                  code == 0 and "Served 2 connections, 10 messages" in summary,
                  "exit %s, stdout %r, stderr %s" % (code, summary, server.stderr()[-1500:]))
        finally:
            server.kill()

        server = Server(server_exe, ["--mode", mode, "--workers", "2",
                                     "--shutdown-timeout-ms", str(IDLE_SHUTDOWN_TIMEOUT_MS)])
        try:
            idle = socket.create_connection(server.addr, timeout=PATIENCE)
            greeting = idle.recv(1024)
            time.sleep(0.3)  # its thread (or loop) now waits in a read
            code, took = server.ctrl_c()
            idle.settimeout(5)
            try:
                closed = idle.recv(1024) == b""
            except OSError:
                closed = True
            check("%s: shutdown with an idle client ends at once (%.1f s)" % (mode, took),
                  greeting == b"Welcome!" and code == 0 and took < IDLE_SHUTDOWN_LIMIT and closed,
                  "greeting %r, exit %s after %.1f s, client closed: %s; stderr %s"
                  % (greeting, code, took, closed, server.stderr()[-1500:]))
        finally:
            server.kill()

    # The cut wakes the reader: the silent member's thread is blocked in its
    # read when the flusher cuts it for stalling; the room must announce it
    # at once, not when the member closes (scripts/chat_flood.py checks
    # that, with the silent member still connected, and that the reader got
    # every line).
    flood = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "chat_flood.py")
    for mode in ["threads", "pool"]:
        args = ["--mode", mode] + (["--workers", "4"] if mode == "pool" else [])
        server = Server(chat_exe, args)
        try:
            run = subprocess.run(
                [sys.executable, flood, "--addr", "%s:%d" % server.addr,
                 "--reader", "fast", "--timeout", str(PATIENCE)],
                stdin=subprocess.DEVNULL, capture_output=True, timeout=PATIENCE * 2,
            )
            report = run.stdout.decode("utf-8", "replace")
            check("chat %s: a silent member is cut and announced while connected" % mode,
                  run.returncode == 0 and '"silent_cut_announced": true' in report,
                  "exit %s: %s %s; server: %s" % (run.returncode, report, run.stderr[-800:],
                                                  server.stderr()[-1500:]))
        finally:
            server.kill()

    passed = sum(1 for r in results if r)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
