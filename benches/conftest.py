"""Benchmarks: pytest-benchmark suites, each comparing pyvirt with its peer in one run.

Run: .venv/bin/python -m pytest benches/ --benchmark-group-by=group --benchmark-columns=median,ops
Speed goals are read from these side-by-side figures (ratios), never asserted in tests.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
