"""The models the offline editor ships (`models/`), read by OpenCV's own TFLite reader."""

from __future__ import annotations

from importlib import resources

import cv2
import numpy as np

from mizual.localedit.findings import SeeingUnavailable


def load(model: str, *, finding: str) -> cv2.dnn.Net:
    """The network in `models/<model>`, or SeeingUnavailable naming what cannot be found
    (`finding`: "faces", "people") and why."""
    if not hasattr(cv2.dnn, "readNetFromTFLite"):
        raise SeeingUnavailable(
            f"The offline editor cannot look for {finding} here: finding {finding} needs an "
            "OpenCV with its TFLite model reader (4.14 is tested), and this is OpenCV "
            f"{cv2.__version__}."
        )
    try:
        data = resources.files("mizual.localedit").joinpath("models", model).read_bytes()
    except OSError as exc:
        raise SeeingUnavailable(
            f"The offline editor cannot look for {finding} here: its model ({model}) is missing "
            "from this installation."
        ) from exc
    return cv2.dnn.readNetFromTFLite(np.frombuffer(data, np.uint8))
