#!/bin/bash
# The measurements of deploy/README.md, "Restart without dropping clients".
#
#   scripts/handover.sh handover MODE TRIALS    # restart under bench --churn
#   scripts/handover.sh processes MODE ROUNDS   # --processes 1 vs 2, interleaved
#
# handover: per trial, an old server (--reuse-port), `bench --churn` with 8
# clients for 3 s, after 1 s a new server on the same port, then SIGTERM to
# the old one; prints the bench's failed connections and the old server's
# "closed unserved" count.
# processes: ROUNDS rounds of one 3-second, 64-client bench against
# --processes 1, then 2; prints msgs/s.
# Uses target/release/tcpmodes (build it first: cargo build --release), or
# $TCPMODES. Runs in a temporary directory, loopback only, free ports.
set -eu
R=$(realpath "${TCPMODES:-target/release/tcpmodes}")
what=${1:?handover or processes}
mode=${2:?mode}
count=${3:?count}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"

# Waits (at most 5 s) for the first line of $1 and prints its address.
address() {
    for _ in $(seq 100); do
        if [ -s "$1" ]; then head -1 "$1" | awk '{print $3}'; return; fi
        sleep 0.05
    done
    echo "no Listening line in $1" >&2
    exit 1
}

case $what in
handover)
    for i in $(seq "$count"); do
        rm -f old.out new.out bench.out
        "$R" --addr 127.0.0.1:0 --reuse-port --mode "$mode" -q > old.out 2> old.err &
        old=$!
        addr=$(address old.out)
        "$R" bench --addr "$addr" --clients 8 --duration 3 --churn --no-progress --allow-errors > bench.out 2> bench.err &
        bench=$!
        sleep 1
        "$R" --addr "$addr" --reuse-port --mode "$mode" -q > new.out 2> new.err &
        new=$!
        address new.out > /dev/null
        kill -TERM $old; wait $old
        wait $bench
        kill -TERM $new; wait $new
        echo "trial $i: $(tail -1 bench.out | awk '{printf "conns/s %s sent %s errors", $8, $16; for (i = 17; i <= NF; i++) printf " %s", $i}')" \
             "| old server: $(tail -1 old.out | grep -o '[0-9]* closed unserved')"
    done
    ;;
processes)
    for _ in $(seq "$count"); do
        for p in 1 2; do
            rm -f s.out
            "$R" --addr 127.0.0.1:0 --mode "$mode" --processes $p -q > s.out 2> s.err &
            server=$!
            addr=$(address s.out)
            "$R" bench --addr "$addr" --clients 64 --duration 3 --no-progress > b.out
            kill -TERM $server; wait $server
            echo "$mode processes $p: $(tail -1 b.out | awk '{printf "msgs/s %s errors", $8; for (i = 16; i <= NF; i++) printf " %s", $i}')"
        done
    done
    ;;
*)
    echo "usage: $0 handover|processes MODE COUNT" >&2
    exit 2
    ;;
esac
