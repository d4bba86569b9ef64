#!/usr/bin/env bash
# Regenerates the pictures the READMEs show, from real runs on this machine:
#   docs/compare.png          the default `compare` (4 clients, 3 s per mode)
#   docs/lesson-timeline.png  the lesson's experiment: who was served when
# Usage: bash scripts/charts.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
target/release/tcpmodes compare --plot docs/compare.png
target/release/tcpmodes compare --clients 2 --messages 3 --delay-ms 1000 \
    --timeline --timeline-svg docs/lesson-timeline.png
