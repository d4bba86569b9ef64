#!/usr/bin/env python3
"""Runs one of the lesson's servers unchanged on another port.

    python3 scripts/on_port.py PORT scripts/server.py [--sleep SECONDS]

The lesson's servers bind 127.0.0.1:9999. To run two side by side (the
serial one and the threaded one, for `tcpmodes compare --server`), or on a
free port in a test (PORT 0), this wraps `socket.bind` to use PORT instead
and prints `Listening on 127.0.0.1:N` first, as tcpmodes does, so scripts
read the port the same way. `--sleep` replaces the lesson's
`time.sleep(1)` with a shorter pause (tests that run the server many
times). The server's own code is run as it is, from its file.
"""

import runpy
import socket
import sys
import time


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    port, script = int(sys.argv[1]), sys.argv[2]
    if sys.argv[3:5] and sys.argv[3] == "--sleep":
        pause = float(sys.argv[4])
        real_sleep = time.sleep
        time.sleep = lambda _seconds: real_sleep(pause)

    real_bind = socket.socket.bind

    def bind(self, address):
        real_bind(self, (address[0], port))
        print("Listening on %s:%d" % self.getsockname(), flush=True)

    socket.socket.bind = bind
    # The server prints as it serves; unbuffered, so a reader sees it live.
    sys.stdout.reconfigure(line_buffering=True)
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
