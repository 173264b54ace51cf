"""``python -m benchmarks.calibration``: the same as ``python benchmarks/calibrate.py``."""

from benchmarks.calibration.cli import main

main()
