#!/usr/bin/env python3
"""Build a libFuzzer harness for the C core under ASan+UBSan and run it for a bounded time.

    python csrc/fuzz/run_fuzz.py fastxml --seconds 20
    python csrc/fuzz/run_fuzz.py evpoll --seconds 20 --keep work/

Needs clang and its fuzzer runtime (Debian 12: apt install clang libclang-rt-14-dev).
The seed corpus under csrc/fuzz/corpus/<target>/ is copied to a scratch directory, so
fuzzing never writes into the source tree.  Exit status: 0 when no crash was found,
the fuzzer's status otherwise (crash inputs are left as <workdir>/crash-*); 77 when
the toolchain is missing (tests/core/test_fuzz.py turns that into a skip).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FUZZ_DIR = Path(__file__).resolve().parent
CSRC = FUZZ_DIR.parent
TARGETS = {"fastxml": ["fastxml.c"], "evpoll": ["evpoll.c"]}
SANITIZE = ["-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=all"]
TOOLCHAIN_MISSING = 77


class ToolchainMissing(RuntimeError):
    """clang or its libFuzzer runtime is not installed."""


def find_clang() -> str:
    for name in ("clang", "clang-14", "clang-15", "clang-16"):
        path = shutil.which(name)
        if path:
            return path
    raise ToolchainMissing("clang not found (Debian: apt install clang libclang-rt-14-dev)")


def build(target: str, outdir: Path, clang: str | None = None) -> Path:
    """Compile csrc/fuzz/<target>_fuzz.c with the target's sources; return the binary."""
    cc = clang or find_clang()
    out = outdir / f"{target}_fuzz"
    cmd = [cc, "-g", "-O1", "-fno-omit-frame-pointer", *SANITIZE, "-Wall", "-Wextra",
           f"-I{CSRC}", str(FUZZ_DIR / f"{target}_fuzz.c"),
           *(str(CSRC / src) for src in TARGETS[target]), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        if "libclang_rt" in proc.stderr:    # fuzzer/asan/ubsan runtime not installed
            raise ToolchainMissing("clang's sanitizer or libFuzzer runtime is missing "
                                   "(Debian: apt install libclang-rt-14-dev)")
        raise RuntimeError(f"fuzzer build failed:\n{' '.join(cmd)}\n{proc.stderr}")
    return out


def run(binary: Path, target: str, seconds: int, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Run the fuzzer for `seconds` on a scratch copy of the seed corpus."""
    corpus = workdir / "corpus"
    shutil.copytree(FUZZ_DIR / "corpus" / target, corpus, dirs_exist_ok=True)
    cmd = [str(binary), str(corpus), f"-max_total_time={seconds}", "-timeout=10",
           "-rss_limit_mb=2048", "-print_final_stats=1", f"-artifact_prefix={workdir}/"]
    if (FUZZ_DIR / f"{target}.dict").exists():
        cmd.append(f"-dict={FUZZ_DIR / f'{target}.dict'}")
    # libFuzzer bounds its own run time; the outer timeout only guards a wedged process.
    return subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120,
                          check=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("target", choices=sorted(TARGETS))
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--keep", type=Path, help="work directory to keep (default: temporary)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        try:
            binary = build(args.target, work)
        except ToolchainMissing as e:
            print(f"skip: {e}", file=sys.stderr)
            return TOOLCHAIN_MISSING
        proc = run(binary, args.target, args.seconds, work)
        sys.stderr.write(proc.stderr[-4000:])
        if proc.returncode != 0:
            crashes = sorted(p.name for p in work.glob("crash-*")) + \
                sorted(p.name for p in work.glob("leak-*"))
            print(f"{args.target}: fuzzer failed (status {proc.returncode}); "
                  f"artifacts: {crashes}", file=sys.stderr)
        return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
