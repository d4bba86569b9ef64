#!/usr/bin/env python3
"""The chat flood scenario: does one member that never reads hold up the room?

Runs against a `chat` example server that is already running and prints one
JSON object on standard output. Three members join the room, in this order:

  reader   reads all the time and checks what it gets;
  silent   asks for a small receive buffer (SO_RCVBUF, 4096 bytes, set before
           connecting), reads its welcome line, then never reads again;
  speaker  sends N lines (20,000 by default) of 1 KiB each, 1024 bytes with
           the newline, as fast as it can: `00000 xxx...`, `00001 xxx...`.

The server relays each line to the others prefixed with the speaker's name,
its address (`127.0.0.1:51234: 00042 xxx...`). The reader must get every line
exactly once, whole and in order. The silent member is expected to be cut as
too slow to read, which the room announces to the reader as
`* <silent address> left (too slow to read)`; the reader must not be cut.

What it measures: `seconds`, from the first byte the speaker sends to the
reader's last line; `speaker_seconds`, how long the speaker's one `sendall`
of all its lines took; whether the reader was cut (`reader_cut`) and how many
lines it got in order (`lines_got`) before that.

Run it:

    cargo run --release --example chat -- --mode event --addr 127.0.0.1:7000
    python3 scripts/chat_flood.py --addr 127.0.0.1:7000

Two readers, chosen with `--reader`:

  python  (default) a thread calls `recv(--reader-chunk)` (64 KiB) in a loop
          and checks each line as it arrives, as a plain Python client would.
          Checking costs about a microsecond a line, so this reader can fall
          behind a fast server.
  fast    a thread reads with `recv_into` straight into one preallocated
          buffer, as much as the kernel has queued per call, and looks at
          nothing until every byte of the numbered lines could be there; only
          then are the lines checked. Per call that is one system call and
          one copy, as a C reader would do, so the server, not the reader,
          sets the pace. (`socat` or `nc` would read as fast but are not
          always installed, and the checking still needs Python.)

Every wait is bounded: joining the room, then the flood, each get
`--timeout` seconds (60 by default). Exit status 0 when the reader got every line in order and was
not cut, 1 otherwise (the JSON says why in `error`). Python 3 standard
library only.
"""

import argparse
import json
import re
import socket
import sys
import threading
import time

LINE_BYTES = 1024  # each numbered line, with its newline
NUMBER_DIGITS = 5  # so at most 100,000 lines
WELCOME = re.compile(rb"^Welcome to the chat, (.+?)! ")
# After the reader's last line, how long to wait for the room to announce
# that the silent member left, if it has not already.
ANNOUNCE_GRACE = 2.0


def numbered_line(i):
    """Line number `i` as the speaker sends it, with its newline."""
    head = b"%0*d " % (NUMBER_DIGITS, i)
    return head + b"x" * (LINE_BYTES - 1 - len(head)) + b"\n"


class Deadline:
    """A point in time every wait is measured against."""

    def __init__(self, seconds):
        self.at = time.monotonic() + seconds

    def left(self):
        return self.at - time.monotonic()

    def passed(self):
        return self.left() <= 0


class Member:
    """One client of the room: a socket and the bytes read past its last line."""

    def __init__(self, addr, deadline, rcvbuf=None):
        self.deadline = deadline
        family, kind, proto, _, sockaddr = socket.getaddrinfo(
            addr[0], addr[1], type=socket.SOCK_STREAM
        )[0]
        self.sock = socket.socket(family, kind, proto)
        if rcvbuf is not None:
            # Before connect: the window offered in the handshake depends on it.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(max(deadline.left(), 0.001))
        self.sock.connect(sockaddr)
        self.rest = b""
        welcome = self.read_line()
        match = WELCOME.match(welcome)
        if not match:
            raise RuntimeError("unexpected welcome line %r" % welcome[:200])
        # The server's name for us: our address as it sees it.
        self.name = match.group(1)

    def read_line(self):
        """The next line, without its newline."""
        while b"\n" not in self.rest:
            self.sock.settimeout(max(self.deadline.left(), 0.001))
            data = self.sock.recv(4096)
            if not data:
                raise RuntimeError("closed by the server while waiting for a line")
            self.rest += data
        line, self.rest = self.rest.split(b"\n", 1)
        return line

    def wait_for(self, wanted):
        """Read lines until `wanted` arrives; any other line is an error."""
        line = self.read_line()
        if line != wanted:
            raise RuntimeError("expected %r, got %r" % (wanted, line[:200]))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Checker:
    """Checks the reader's stream, line by line: each relayed line must be
    the next numbered one; `* ` lines are the room's announcements."""

    def __init__(self, speaker, silent, lines):
        self.prefix = speaker + b": "
        self.left_line = b"* " + silent + b" left (too slow to read)"
        self.lines = lines
        self.next = 0  # lines got, whole and in order
        self.in_order = True
        self.bad_line = None  # the first line that was not the next one
        self.silent_left = False
        self.other_lines = []  # announcements and anything else, first few
        self.pending = b""  # bytes after the last newline
        self.offset = 0  # stream offset just past the last line checked
        self.last_line_end = None  # stream offset just past line N-1

    def done(self):
        return self.next == self.lines or not self.in_order

    def feed(self, data):
        """Checks every complete line in `data` (appended to what is pending)."""
        if not self.in_order:
            return
        data = self.pending + bytes(data)
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            line = data[start:end]
            self.offset += end + 1 - start
            start = end + 1
            if line.startswith(self.prefix):
                if self.next < self.lines and line[len(self.prefix):] == numbered_line(self.next)[:-1]:
                    self.next += 1
                    if self.next == self.lines:
                        self.last_line_end = self.offset
                    continue
                self.in_order = False
                self.bad_line = line[:80].decode("utf-8", "replace")
                break
            if line == self.left_line:
                self.silent_left = True
            elif len(self.other_lines) < 5:
                self.other_lines.append(line[:120].decode("utf-8", "replace"))
        self.pending = data[start:]


class Reader(threading.Thread):
    """Reads the reader member's socket until every line is in, the server
    closes it, or the deadline passes. `log` keeps (bytes read so far, time)
    after each read, to date the read that completed the last line."""

    def __init__(self, member, checker, kind, chunk, deadline):
        super().__init__(daemon=True)
        self.sock = member.sock
        self.checker = checker
        self.kind = kind
        self.chunk = chunk
        self.deadline = deadline
        self.log = []
        self.total = 0
        self.cut = None  # "closed" or "reset" if the server ended it early
        self.cut_time = None
        self.error = None
        self.checker.feed(member.rest)  # lines read during the joins
        # Allocated (and zeroed) now, not once the flood has begun.
        size = self.chunk
        if kind == "fast":
            self.needed = checker.lines * (len(checker.prefix) + LINE_BYTES)
            size = max(size, self.needed + (1 << 20))
        self.buf = bytearray(size)
        # Set just before the first read, so the speaker waits for it.
        self.ready = threading.Event()

    def run(self):
        try:
            self.ready.set()
            if self.kind == "fast":
                self.read_fast()
            else:
                self.read_checking()
            self.wait_for_announcement()
        except socket.timeout:
            self.error = "timed out"
        except OSError as e:
            self.error = "reader: %s" % e

    def recv_into(self, view):
        """One read into `view`; 0 when the server closed or reset it."""
        left = self.deadline.left()
        if left <= 0:
            raise socket.timeout()
        self.sock.settimeout(left)
        try:
            n = self.sock.recv_into(view)
        except ConnectionResetError:
            n, self.cut = 0, "reset"
        else:
            if n == 0:
                self.cut = "closed"
        if n == 0:
            self.cut_time = time.perf_counter()
            return 0
        self.total += n
        self.log.append((self.total, time.perf_counter()))
        return n

    def read_checking(self):
        """The Python reader: read a chunk, check its lines, read again."""
        view = memoryview(self.buf)[:self.chunk]
        while not self.checker.done():
            n = self.recv_into(view)
            if n == 0:
                return
            self.checker.feed(view[:n])

    def read_fast(self):
        """The fast reader: fill one buffer without looking at it until it
        holds as many bytes as the numbered lines take, then check."""
        c = self.checker
        view = memoryview(self.buf)
        filled = 0
        try:
            while filled < self.needed:
                n = self.recv_into(view[filled:])
                if n == 0:
                    break
                filled += n
        finally:
            # Also on a timeout: count the lines that did arrive.
            c.feed(view[:filled])
        # The room's announcements took room in the stream too: read on
        # until the last line is in.
        while not c.done() and self.cut is None:
            n = self.recv_into(view[:self.chunk])
            if n == 0:
                break
            c.feed(view[:n])

    def wait_for_announcement(self):
        """Every line is in; give the room a moment to say the silent member
        left, if it has not yet."""
        c = self.checker
        if not c.done() or not c.in_order or c.silent_left or self.cut:
            return
        grace = Deadline(min(ANNOUNCE_GRACE, max(self.deadline.left(), 0)))
        view = memoryview(self.buf)[:self.chunk]
        while not c.silent_left and not grace.passed():
            self.sock.settimeout(grace.left())
            try:
                n = self.sock.recv_into(view)
            except (socket.timeout, OSError):
                return
            if n == 0:
                return
            c.feed(view[:n])

    def time_of_offset(self, offset):
        """When the read that brought the stream to `offset` returned."""
        for total, t in self.log:
            if total >= offset:
                return t
        return None


class Speaker(threading.Thread):
    """Sends every line with one `sendall`, and times it."""

    def __init__(self, member, data, deadline):
        super().__init__(daemon=True)
        self.sock = member.sock
        self.data = data
        self.deadline = deadline
        self.start_time = None
        self.seconds = None
        self.error = None

    def run(self):
        try:
            # Since Python 3.5 the timeout bounds the whole sendall.
            self.sock.settimeout(max(self.deadline.left(), 0.001))
            self.start_time = time.perf_counter()
            self.sock.sendall(self.data)
            self.seconds = time.perf_counter() - self.start_time
        except OSError as e:
            self.error = "speaker: %s after %.3f s" % (
                e or type(e).__name__,
                time.perf_counter() - self.start_time,
            )


def parse_addr(text):
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT, got %r" % text)
    return host.strip("[]"), int(port)


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Flood a running chat example room and check one reader got every line.",
    )
    p.add_argument("--addr", type=parse_addr, required=True, help="the chat server, HOST:PORT")
    p.add_argument("--lines", type=int, default=20000, help="lines the speaker sends (default 20000)")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="bound on every wait, in seconds (default 60)")
    p.add_argument("--rcvbuf-silent", type=int, default=4096,
                   help="SO_RCVBUF of the silent member, set before connect (default 4096)")
    p.add_argument("--reader", choices=("python", "fast"), default="python",
                   help="python: recv and check as it goes (default); "
                        "fast: recv_into one buffer, check at the end")
    p.add_argument("--reader-chunk", type=int, default=65536,
                   help="bytes per recv of the python reader (default 65536)")
    args = p.parse_args(argv)
    if not 1 <= args.lines <= 10 ** NUMBER_DIGITS:
        p.error("--lines must be from 1 to %d" % 10 ** NUMBER_DIGITS)
    if args.timeout <= 0 or args.reader_chunk <= 0 or args.rcvbuf_silent <= 0:
        p.error("--timeout, --reader-chunk and --rcvbuf-silent must be positive")
    return args


def flood(args):
    """Runs the scenario; returns the result as a dict."""
    result = {
        "lines_expected": args.lines,
        "lines_got": 0,
        "in_order": True,
        "reader_cut": False,
        "silent_cut_announced": False,
        "seconds": None,
        "speaker_seconds": None,
        "error": None,
        "reader": args.reader,
        "line_bytes": LINE_BYTES,
    }
    data = b"".join(numbered_line(i) for i in range(args.lines))
    members = []
    try:
        # Joining: the welcome comes just before a member joins the room,
        # so it does not prove the member is in. The reader is in once it
        # has an answer to a line (its handler handles messages only after
        # joining); each later member's arrival is announced to the reader.
        deadline = Deadline(args.timeout)
        reader = Member(args.addr, deadline)
        members.append(reader)
        reader.sock.sendall(b"anyone?\n")
        reader.wait_for(b"(nobody else is here)")
        silent = Member(args.addr, deadline, rcvbuf=args.rcvbuf_silent)
        members.append(silent)
        reader.wait_for(b"* " + silent.name + b" joined")
        speaker = Member(args.addr, deadline)
        members.append(speaker)
        reader.wait_for(b"* " + speaker.name + b" joined")
        result["silent_rcvbuf"] = silent.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        result["names"] = {
            "reader": reader.name.decode(),
            "silent": silent.name.decode(),
            "speaker": speaker.name.decode(),
        }
    except (OSError, RuntimeError) as e:
        result["error"] = "joining: %s" % (e or type(e).__name__)
        for m in members:
            m.close()
        return result

    # The flood.
    deadline = Deadline(args.timeout)
    checker = Checker(speaker.name, silent.name, args.lines)
    reading = Reader(reader, checker, args.reader, args.reader_chunk, deadline)
    speaking = Speaker(speaker, data, deadline)
    reading.start()
    reading.ready.wait(max(deadline.left(), 0))
    start = time.perf_counter()
    speaking.start()
    reading.join(max(deadline.left(), 0) + ANNOUNCE_GRACE + 1)
    speaking.join(max(deadline.left(), 0) + 1)
    end = time.perf_counter()
    for m in members:
        m.close()

    got_all = checker.next == args.lines
    result["lines_got"] = checker.next
    result["in_order"] = checker.in_order
    result["reader_cut"] = reading.cut is not None and not got_all
    result["silent_cut_announced"] = checker.silent_left
    result["speaker_seconds"] = speaking.seconds
    result["reader_bytes"] = reading.total
    if got_all:
        t = reading.time_of_offset(checker.last_line_end)
        result["seconds"] = (t or end) - start
    else:
        result["seconds"] = (reading.cut_time or end) - start
    if checker.other_lines:
        result["other_lines"] = checker.other_lines

    errors = []
    if not checker.in_order:
        errors.append("line %d was not the next one: %r" % (checker.next, checker.bad_line))
    elif reading.cut and not got_all:
        errors.append("reader cut (connection %s) after %d of %d lines"
                      % (reading.cut, checker.next, args.lines))
    elif not got_all:
        errors.append("%s with %d of %d lines after %.1f s"
                      % (reading.error or "reader still waiting", checker.next,
                         args.lines, end - start))
    if speaking.error:
        errors.append(speaking.error)
    elif speaking.is_alive():
        errors.append("speaker still sending after %.1f s" % (end - start))
    if errors:
        result["error"] = "; ".join(errors)
    return result


def main(argv=None):
    args = parse_args(argv)
    result = flood(args)
    for key in ("seconds", "speaker_seconds"):
        if result[key] is not None:
            result[key] = round(result[key], 4)
    print(json.dumps(result))
    ok = (result["lines_got"] == args.lines and result["in_order"]
          and not result["reader_cut"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
