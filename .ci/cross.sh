#!/usr/bin/env bash
# Windows and macOS, checked from Linux (called by .ci/run; runs alone too):
#
# 1. clippy -D warnings (a superset of `cargo check`) of the library, the
#    binary, the examples and the tests, every feature, and of the library
#    alone (no default features), for x86_64-pc-windows-gnu (the target
#    the wine run builds), x86_64-pc-windows-msvc (rustup's default on
#    Windows), x86_64-apple-darwin and aarch64-apple-darwin;
# 2. a Windows build of tcpmodes.exe and of the lesson_client and chat
#    examples, run under wine by .ci/wine_check.py: the lesson's transcript
#    in every mode from a Linux client, the Windows lesson_client against
#    the Windows server, Ctrl+C with the summary, a shutdown with an idle
#    client that ends at once, a chat member cut while still connected.
#
# No rustup target can be downloaded here, so it uses Debian's own Rust
# (rustc-web, cargo-web, its clippy) and its standard library's source
# (rust-web-src): `-Zbuild-std` builds std for each target from it
# (RUSTC_BOOTSTRAP=1 unlocks the flag on that stable compiler). mingw-w64
# links for Windows; wine runs the result. The host build keeps rustup's
# toolchain and its own target/: everything here goes to CROSS_DIR
# (default ~/.cache/tcpmodes-cross: outside the clone, so a later run on
# the same machine finds it warm).
#
# Measured on 2 cores (each step prints its time): cold, with the packages
# already installed, 6 minutes (1 to 1.5 per clippy target, 1 for the
# Windows build, 30 s under wine); warm 30 s in the same clone, 100 s in a
# new clone (only the crate itself is built again). The cache takes about
# 3 GB (half of it the four targets' std and dependencies, 0.7 GB wine's
# prefix).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
began=$SECONDS
step_began=$SECONDS
step() {
    echo "cross: $1 ($((SECONDS - step_began)) s)"
    step_began=$SECONDS
}

packages=(rustc-web cargo-web rust-web-src rust-web-clippy gcc-mingw-w64-x86-64 wine64)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "cross: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
step "tools ready"

CROSS_DIR=${CROSS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tcpmodes-cross}
mkdir -p "$CROSS_DIR"
# Debian's cargo, rustc and clippy (in /usr/bin) before rustup's proxies,
# never a mix of the two.
export PATH=/usr/bin:/bin:$PATH
unset RUSTC RUSTC_WRAPPER RUSTFLAGS
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=$CROSS_DIR/target
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
# ring's build script (rcgen, a dev-dependency) compiles C for the target:
# mingw's gcc for windows-gnu; for MSVC and macOS, with no SDK here, a
# stand-in that only creates its output file (`check` links nothing).
for t in x86_64_pc_windows_msvc x86_64_apple_darwin aarch64_apple_darwin; do
    export "CC_$t=$repo/.ci/stand-in-cc" "AR_$t=$repo/.ci/stand-in-cc"
done
build_std=(-Zbuild-std=std,panic_abort --locked)

for target in x86_64-pc-windows-gnu x86_64-pc-windows-msvc x86_64-apple-darwin \
    aarch64-apple-darwin; do
    cargo clippy "${build_std[@]}" --target "$target" --all-targets --all-features -q \
        -- -D warnings
    cargo clippy "${build_std[@]}" --target "$target" --no-default-features -q -- -D warnings
    step "clippy clean for $target (all targets and features; the library alone)"
done

# Without debug info: a third of the size and quicker to link.
CARGO_PROFILE_DEV_DEBUG=0 cargo build "${build_std[@]}" --target x86_64-pc-windows-gnu -q \
    --bin tcpmodes --example lesson_client --example chat
win=$CARGO_TARGET_DIR/x86_64-pc-windows-gnu/debug
# wine 8 lacks bcryptprimitives.dll (ProcessPrng), which Rust's std needs
# to start; Windows 10 and 11 have it. A stand-in next to each .exe.
x86_64-w64-mingw32-gcc -shared -O2 -o "$CROSS_DIR/bcryptprimitives.dll" \
    .ci/processprng.c .ci/processprng.def -ladvapi32
cp "$CROSS_DIR/bcryptprimitives.dll" "$win/"
cp "$CROSS_DIR/bcryptprimitives.dll" "$win/examples/"
step "built tcpmodes.exe, lesson_client.exe and chat.exe"

export WINEPREFIX=$CROSS_DIR/wine WINEDEBUG=-all
stop_wine() { wineserver -k 2>/dev/null || true; }
trap stop_wine EXIT
# The first run makes the prefix (and warns about syswow64: harmless);
# then wait until wine's own start-up work has finished.
wine "$win/tcpmodes.exe" --version >/dev/null 2>&1
wineserver -w
python3 .ci/wine_check.py "$win"
step "wine checks"
echo "cross: done in $((SECONDS - began)) s"
