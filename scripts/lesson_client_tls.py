#!/usr/bin/env python3
# The lesson's client over TLS, for a TLS-terminating balancer in front of
# tcpmodes (deploy/README.md): the same five messages and `exit`, each
# reply read whole (a TLS record may split it) and printed as the lesson's
# client prints it. The certificate is verified against CAFILE (a
# self-signed one is its own authority) for the name localhost.
#   python3 scripts/lesson_client_tls.py PORT CAFILE
# Its own address (as the balancer sees it) goes to stderr as
# `local 127.0.0.1:PORT`, so a test can find it in the servers' logs.
import socket
import ssl
import sys

port = int(sys.argv[1])
ctx = ssl.create_default_context(cafile=sys.argv[2])
raw = socket.create_connection(('127.0.0.1', port), timeout=20)
s = ctx.wrap_socket(raw, server_hostname='localhost')
host, local_port = s.getsockname()[:2]
print(f'local {host}:{local_port}', file=sys.stderr, flush=True)


def recv_exactly(n):
    got = b''
    while len(got) < n:
        part = s.recv(n - len(got))
        if not part:
            break
        got += part
    return got


def expect(want):
    got = recv_exactly(len(want))
    print(got.decode('utf-8'))
    if got != want:
        sys.exit(f'expected {want!r}, got {got!r}')


expect(b'Welcome!')
for data in [b'message1', b'message2', b'message3', b'message4', b'message5']:
    s.sendall(data)
    expect(b'Received ' + data + b';')
s.sendall(b'exit')
# The server closes on `exit`: end of stream, nothing more.
try:
    rest = s.recv(1024)
except (ssl.SSLEOFError, ConnectionResetError):
    rest = b''
if rest:
    sys.exit(f'expected the end after exit, got {rest!r}')
s.close()
