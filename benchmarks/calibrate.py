"""Calibration of the simulator against a real worker pool (``benchmarks.calibration``).

python benchmarks/calibrate.py [--backend redis|disk|both] [--seed N] [--workload PATH]
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.calibration.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
