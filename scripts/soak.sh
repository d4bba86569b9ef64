#!/usr/bin/env bash
# Soak test (issue 5, item 9): serves each mode for MINUTES under a steady
# `tcpmodes bench` load plus a stream of slow and faulty clients, then
# checks that the well-behaved clients saw no error and that the server's
# memory did not creep: RSS at the end within 10% of RSS after warm-up.
#
#   scripts/soak.sh [MINUTES]        (default 1; per mode, so 5x in all)
#   MODES="threads pool" scripts/soak.sh 10
#
# Needs Linux (/proc) and python3 (the faulty clients). Everything runs on
# 127.0.0.1; only processes this script started are stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=${1:-1}
modes=${MODES:-serial threads pool event event-workers}
total=$(python3 -c "print(max(20, int(float('$minutes') * 60)))")
# Warm-up: until every worker thread has met each kind of client. glibc
# gives threads their own malloc arenas, which keep freed buffers, so RSS
# climbs to a plateau as more threads have served a large message; a 3 min
# pool run with 16 workers levels off after about a minute.
warmup=$(( total / 3 < 20 ? 20 : total / 3 ))
measure=$(( total - warmup ))
work=$(mktemp -d /tmp/tcpmodes-soak.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

command -v python3 >/dev/null || { echo "soak: python3 is needed for the faulty clients" >&2; exit 2; }
echo "soak: building release..."
cargo build --release --quiet
bin=target/release/tcpmodes

# Slow and faulty clients, one loop per process until killed. Each round
# does one thing a real network sends; every step has a timeout.
cat >"$work/hostile.py" <<'EOF'
import random, socket, struct, sys, time
host, port = sys.argv[1], int(sys.argv[2])
rng = random.Random(int(sys.argv[3]))
count = {}

def conn():
    s = socket.create_connection((host, port), timeout=30)
    s.settimeout(30)
    return s

def slowloris(s):       # a byte every 200 ms, never a whole line
    for _ in range(100):
        s.sendall(b"x"); time.sleep(0.2)
def reset_mid(s):       # half a message, then RST (SO_LINGER 0)
    s.sendall(b"half a mess")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
def half_close(s):      # send, shut the write side, the reply must come
    s.sendall(b"bye\n"); s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        d = s.recv(4096)
        if not d: break
        data += d
    assert data.endswith(b"Received bye;\n"), data
def silent(s):          # connect and close without a byte
    pass
def huge_line(s):       # 1 MB with no newline: cut at max_message_bytes
    s.sendall(b"a" * (1 << 20))
def odd_bytes(s):       # empty line, non-UTF-8, exit\r\n
    s.sendall(b"\n\xff\xfe\x00\nexit\r\n")
    while s.recv(4096): pass
def deaf(s):            # requests, never reads a reply, until cut (<= 64 MB)
    for _ in range(1024):
        s.sendall(b"d" * 65535 + b"\n")

kinds = [slowloris, reset_mid, half_close, silent, huge_line, odd_bytes, deaf]
while True:
    k = rng.choice(kinds)
    try:
        s = conn()
        k(s)
        s.close()
        count[k.__name__] = count.get(k.__name__, 0) + 1
    except (OSError, AssertionError) as e:
        # Being cut is what a hostile client is for; only a failed
        # half-close reply counts against the server.
        if isinstance(e, AssertionError):
            print("half-close reply missing:", e, flush=True)
    time.sleep(rng.uniform(0.05, 0.3))
EOF

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

verdicts=()
failed=0
for mode in $modes; do
    echo "soak: $mode for ${total}s (warm-up ${warmup}s, measured ${measure}s)"
    case $mode in
        # Serial serves one connection at a time: the bench opens a new
        # connection per message (--churn) so faulty clients take turns,
        # and waits as long as the slowest of them may hold the server.
        serial) bench_args=(--clients 1 --churn --timeout-ms 60000); hostile=1; extra=() ;;
        threads) bench_args=(--clients 8 --timeout-ms 10000); hostile=3; extra=() ;;
        pool) bench_args=(--clients 8 --timeout-ms 10000); hostile=3; extra=(--workers 16) ;;
        event|event-workers) bench_args=(--clients 8 --timeout-ms 10000); hostile=3; extra=() ;;
        *) echo "unknown mode $mode" >&2; exit 2 ;;
    esac
    (cd "$work" && exec "$OLDPWD/$bin" --mode "$mode" --addr 127.0.0.1:0 --framing line \
        --read-timeout-ms 2000 --write-timeout-ms 2000 "${extra[@]}" -q \
        >"$work/$mode.out" 2>"$work/$mode.err") &
    server=$!
    pids+=("$server")
    for _ in $(seq 100); do grep -q "^Listening on" "$work/$mode.out" 2>/dev/null && break; sleep 0.05; done
    addr=$(awk 'NR==1 {print $3}' "$work/$mode.out")
    [ -n "$addr" ] || { echo "soak: $mode server did not start" >&2; cat "$work/$mode.err" >&2; exit 1; }

    hpids=()
    for i in $(seq "$hostile"); do
        python3 "$work/hostile.py" "${addr%:*}" "${addr##*:}" "$i" >>"$work/$mode.hostile" 2>&1 &
        hpids+=("$!"); pids+=("$!")
    done
    "$bin" bench --addr "$addr" --framing line --warmup "$warmup" --duration "$measure" \
        --format json --no-progress --allow-errors "${bench_args[@]}" >"$work/$mode.json" &
    bench=$!
    pids+=("$bench")
    started=$SECONDS
    : >"$work/$mode.rss"
    for _ in $(seq "$warmup"); do
        echo "$((SECONDS - started)) $(rss "$server")" >>"$work/$mode.rss"
        sleep 1
    done
    rss_warm=$(rss "$server")
    rss_max=$rss_warm
    # Sample every 5 s while the bench runs; the last sample is "the end".
    while kill -0 "$bench" 2>/dev/null; do
        r=$(rss "$server"); [ "$r" -gt 0 ] && rss_end=$r
        echo "$((SECONDS - started)) $r" >>"$work/$mode.rss"
        [ "$r" -gt "$rss_max" ] && rss_max=$r
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$bench" 2>/dev/null || break; sleep 0.5; done
    done
    wait "$bench" || true
    rss_end=${rss_end:-$(rss "$server")}
    kill "${hpids[@]}" 2>/dev/null || true
    wait "${hpids[@]}" 2>/dev/null || true
    kill -TERM "$server"
    wait "$server" || true

    read -r ok errors rate p99 < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(r["replies_ok"], r["errors"]["total"], round(r.get("msgs_per_sec") or r.get("conns_per_sec") or 0), r["latency_us"]["p99"])
' "$work/$mode.json")
    summary=$(grep '^Served ' "$work/$mode.out" || echo "no summary")
    halfclose_bad=$(grep -c "half-close reply missing" "$work/$mode.hostile" || true)
    cut_slow=$(grep -c "no complete message" "$work/$mode.err" || true)
    cut_deaf=$(grep -c "took no reply bytes" "$work/$mode.err" || true)
    cut_big=$(grep -c "over max_message_bytes" "$work/$mode.err" || true)
    growth=$(python3 -c "print(f'{($rss_end - $rss_warm) * 100 / $rss_warm:+.1f}')")
    verdict=PASS
    if [ "$errors" != 0 ] || [ "$ok" = 0 ] || [ "$halfclose_bad" != 0 ] \
        || ! python3 -c "import sys; sys.exit(0 if $rss_end <= $rss_warm * 1.10 else 1)"; then
        verdict=FAIL; failed=1
    fi
    echo "  bench: $ok replies, $errors errors, $rate/s, p99 ${p99} us"
    echo "  hostile clients cut: $cut_slow slowloris, $cut_deaf non-readers, $cut_big oversized; half-close failures: $halfclose_bad"
    echo "  RSS: ${rss_warm} KiB after warm-up, ${rss_end} KiB at the end (${growth}%), max ${rss_max} KiB"
    echo "  server: $summary"
    echo "  $mode: $verdict"
    verdicts+=("$mode $verdict: errors $errors, RSS ${rss_warm}->${rss_end} KiB (${growth}%)")
done

echo
echo "soak verdict (${total}s per mode):"
printf '  %s\n' "${verdicts[@]}"
echo "logs: $work"
exit $failed
