#!/usr/bin/env python3
"""What HAProxy in front costs: msgs/s and p99 latency of `tcpmodes bench`
straight to one tcpmodes server, through HAProxy's plain frontend (three
servers behind, PROXY v2), and through its TLS frontend (HAProxy itself is
the TLS client there: deploy/tls-client.cfg), in interleaved rounds
(direct, plain, tls, direct, plain, tls, ...) so a machine that slows
down mid-way slows every path alike; prints each run and the medians.

    cargo build --release
    python3 scripts/haproxy_bench.py --clients 64 --duration 5 --rounds 3

Needs haproxy and openssl (for a throw-away self-signed certificate, made
in a temporary directory and deleted after). Everything listens on
127.0.0.1, on ports picked free; every process started here is stopped
here. No third-party packages.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def start_server(binary, mode, proxy):
    """A tcpmodes server on a free port; returns (process, address)."""
    p = subprocess.Popen(
        [binary, '--addr', '127.0.0.1:0', '--mode', mode, '--proxy-protocol', proxy],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    if not line.startswith('Listening on '):
        p.kill()
        sys.exit(f'server did not start: {line!r}')
    return p, line.split()[2]


def api(sock_path, command):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(sock_path)
        s.sendall(command.encode() + b'\n')
        out = b''
        while chunk := s.recv(65536):
            out += chunk
    return out.decode()


def wait_up(sock_path, deadline):
    while time.time() < deadline:
        if os.path.exists(sock_path):
            rows = [l.split(',') for l in api(sock_path, 'show stat').splitlines()
                    if l.startswith('echo,s')]
            if len(rows) == 3 and all(r[17].startswith('UP') for r in rows):
                return
        time.sleep(0.1)
    sys.exit('HAProxy did not mark the three servers UP')


def bench(binary, addr, clients, duration, warmup):
    out = subprocess.run(
        [binary, 'bench', '--addr', addr, '--clients', str(clients),
         '--duration', str(duration), '--warmup', str(warmup),
         '--format', 'json', '--no-progress', '--allow-errors'],
        check=True, capture_output=True, text=True, timeout=duration + warmup + 60)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--bin', default=os.path.join(REPO, 'target/release/tcpmodes'))
    ap.add_argument('--mode', default='event')
    ap.add_argument('--clients', type=int, default=64)
    ap.add_argument('--duration', type=float, default=5)
    ap.add_argument('--warmup', type=float, default=1)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--haproxy', default=shutil.which('haproxy') or '/usr/sbin/haproxy')
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix='haproxy-bench-')
    procs = []
    try:
        key, crt, pem = (os.path.join(tmp, n) for n in ('key.pem', 'crt.pem', 'haproxy.pem'))
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
                        '-keyout', key, '-out', crt, '-days', '1', '-subj', '/CN=localhost'],
                       check=True, capture_output=True)
        with open(pem, 'w') as f:
            f.write(open(crt).read() + open(key).read())

        direct, direct_addr = start_server(a.bin, a.mode, 'off')
        procs.append(direct)
        env = dict(os.environ)
        for i in (1, 2, 3):
            p, addr = start_server(a.bin, a.mode, 'v2')
            procs.append(p)
            env[f'BACKEND{i}'] = addr
        plain, tls, tls_client = (f'127.0.0.1:{free_port()}' for _ in range(3))
        stats = os.path.join(tmp, 'haproxy.sock')
        env.update(PLAIN=plain, TLS=tls, TLS_CLIENT=tls_client, PEM=pem, STATS=stats,
                   SOURCE='127.0.0.2', TLS_SOURCE='127.0.0.3')
        haproxy = subprocess.Popen(
            [a.haproxy, '-db', '-f', os.path.join(REPO, 'deploy/haproxy.cfg'),
             '-f', os.path.join(REPO, 'deploy/tls-client.cfg')],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(haproxy)
        wait_up(stats, time.time() + 20)

        paths = [('direct', direct_addr), ('haproxy', plain), ('haproxy+tls', tls_client)]
        results = {name: [] for name, _ in paths}
        print(f'{a.clients} clients, {a.duration:g} s each after {a.warmup:g} s warm-up, '
              f'mode {a.mode}, {a.rounds} interleaved rounds')
        for r in range(a.rounds):
            for name, addr in paths:
                rep = bench(a.bin, addr, a.clients, a.duration, a.warmup)
                row = (rep['msgs_per_sec'], rep['latency_us']['p99'], rep['errors']['total'])
                results[name].append(row)
                print(f'  round {r + 1} {name:12} {row[0]:10.0f} msgs/s  p99 {row[1]:6d} us'
                      f'  errors {row[2]}', flush=True)
        print()
        print('| path | msgs/s (median) | p99 us (median) | errors |')
        print('|---|---:|---:|---:|')
        for name, _ in paths:
            rows = results[name]
            print(f'| {name} | {statistics.median(x[0] for x in rows):.0f} | '
                  f'{statistics.median(x[1] for x in rows):.0f} | {sum(x[2] for x in rows)} |')
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
