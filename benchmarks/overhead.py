"""Kept for ``make bench`` and old notes: the benchmark is now benchmarks/engine_vs_script.py.

Usage: python -m benchmarks.overhead [same options as benchmarks.engine_vs_script]
"""

from benchmarks.engine_vs_script import main

if __name__ == "__main__":
    main()
