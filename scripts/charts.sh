#!/usr/bin/env bash
# Regenerates the pictures the READMEs show, from real runs on this machine,
# each measurement repeated 3 times (interleaved) and shown as its median:
#   docs/compare.png                the default `compare` (4 clients, 3 s per mode)
#   docs/lesson-timeline.png        the lesson's experiment: who was served when
#   docs/lesson-python-timeline.png the lesson's own Python servers, serial and
#   docs/lesson-python-chart.png    threaded, side by side (`compare --server`)
# Usage: bash scripts/charts.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
target/release/tcpmodes compare --repeat 3 --plot docs/compare.png
target/release/tcpmodes compare --clients 2 --messages 3 --delay-ms 1000 --repeat 3 \
    --timeline --timeline-svg docs/lesson-timeline.png

# The lesson's servers bind 9999; on_port.py runs each on its own port.
python3 scripts/on_port.py 9998 scripts/server.py > /dev/null &
serial=$!
python3 scripts/on_port.py 9996 scripts/server_threads.py > /dev/null &
threads=$!
trap 'kill $serial $threads 2>/dev/null' EXIT
sleep 1
target/release/tcpmodes compare --server serial=127.0.0.1:9998 --server threads=127.0.0.1:9996 \
    --clients 2 --messages 2 --repeat 3 --timeline \
    --timeline-svg docs/lesson-python-timeline.png --plot docs/lesson-python-chart.png
