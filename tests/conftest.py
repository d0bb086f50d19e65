import sys
from pathlib import Path

# Tests import shared fixtures from sibling test modules (e.g. `from test_records import record`).
sys.path.insert(0, str(Path(__file__).parent))

REPO_ROOT = Path(__file__).resolve().parents[1]
MIRROR = REPO_ROOT.parent / "shared" / "mirror"
