"""Out-of-sample validation of the simulator against real pools (``benchmarks.validation``).

python benchmarks/validate_sim.py [--profile FILE] [--backend redis|disk|both] [--seed N]
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.validation.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
