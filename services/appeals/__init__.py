"""Appeals service (申诉, spec 8.2): evaluated units dispute published results, organizers decide on the
record, and upheld appeals become new revisions of the run in the scoring service."""

from pathlib import Path

SERVICE_DIR = Path(__file__).parent
SCHEMA = "appeals"
