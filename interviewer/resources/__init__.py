"""What ships inside the package as data: the prompts and rubric (prompts/), the question bank, its reference
material and authored anchors (knowledge/), the fitted score formulas (grading/calibration.json, and
grading/anchor_scores.json once made) and the app's Streamlit settings (streamlit/config.toml).

Everything reads them through `resource_path`, never through the repository's layout, so an installed wheel finds
them as an editable checkout does. pip unpacks a wheel into plain files, so a resource is a real path here (a zipped
import would not be).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def resource_path(*parts: str) -> Path:
    """The packaged file or folder at prompts/..., knowledge/..., grading/... or streamlit/...."""
    return Path(str(files(__name__).joinpath(*parts)))
