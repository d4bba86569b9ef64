/*
 * A stand-in for Windows' bcryptprimitives.dll, for running the Windows
 * build under wine in CI (.ci/cross.sh); never part of the crate.
 *
 * Rust's standard library (1.78 and later) takes its random numbers (the
 * seed of HashMap's hasher) from ProcessPrng in bcryptprimitives.dll,
 * which every Windows 10 and 11 has and wine 8.0 lacks: without it a Rust
 * program does not start under wine. Placed next to the .exe, this DLL
 * gives it ProcessPrng, forwarding to RtlGenRandom (SystemFunction036 of
 * advapi32), which wine has.
 *
 * x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll \
 *     processprng.c processprng.def -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG n = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, n))
            return FALSE;
        data += n;
        length -= n;
    }
    return TRUE;
}
