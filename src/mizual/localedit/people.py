"""Where the people in a photo are: a soft mask, from MediaPipe's selfie segmentation model.

The model (Apache-2.0, the 250 kB `.tflite` of the `mediapipe` 0.10.14 wheel, in `models/`) gives
each pixel of a 256x256 view of the photo a chance of being a person's, including what the person
holds. It was trained on people close to the camera and marks any large foreground object as
well (a cup, a cat): so only the parts of its mask that hold a face BlazeFace found are taken for
people. The mask is made at the model's size and enlarged; its edge stays soft.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from mizual.localedit import tflite
from mizual.localedit.seeing import Face

MODEL = "selfie_segmentation.tflite"
INPUT_SIDE = 256
# Below and above these chances a pixel is taken as surely not, or surely, a person's: the
# model's faint doubts far from anyone would otherwise change the background a little.
SURELY_NOT, SURELY = 0.15, 0.85


class SelfieSegmenter:
    def __init__(self) -> None:
        self._net = tflite.load(MODEL, finding="people")
        self._lock = threading.Lock()  # one segmentation at a time (see BlazeFaceSeeing)

    def chances(self, pixels: np.ndarray) -> np.ndarray:
        """Each pixel's chance (0..1) of being a person's, at the model's 256x256."""
        blob = cv2.dnn.blobFromImage(pixels, 1 / 255, (INPUT_SIDE, INPUT_SIDE))
        with self._lock:
            self._net.setInput(blob)
            # A copy, made while held: the output may share the network's own buffer.
            found: np.ndarray = (
                self._net.forward().reshape(INPUT_SIDE, INPUT_SIDE).astype(np.float32)
            )
        return found


def people_mask(
    segmenter: SelfieSegmenter, pixels: np.ndarray, faces: list[Face]
) -> tuple[np.ndarray, int] | None:
    """0..1 on the people of an RGB photo, at the photo's size, and how many separate figures
    it holds; or None if none is found. The people are the parts of the segmentation that hold
    one of `faces` (in the photo's pixels)."""
    height, width = pixels.shape[:2]
    chances = segmenter.chances(pixels)
    _, labels = cv2.connectedComponents((chances > 0.5).astype(np.uint8), connectivity=8)
    kept = set()
    for face in faces:
        # The face's centre, in the model's 256x256 view of the photo.
        column = min(INPUT_SIDE - 1, int((face.x + face.width / 2) / width * INPUT_SIDE))
        row = min(INPUT_SIDE - 1, int((face.y + face.height / 2) / height * INPUT_SIDE))
        if labels[row, column]:
            kept.add(int(labels[row, column]))
    if not kept:
        return None
    # The kept parts, grown by two pixels of the model's view so that their soft edge is kept.
    near = cv2.dilate(np.isin(labels, sorted(kept)).astype(np.uint8), np.ones((5, 5), np.uint8))
    soft = np.clip((chances - SURELY_NOT) / (SURELY - SURELY_NOT), 0, 1) * near
    mask: np.ndarray = cv2.resize(soft, (width, height), interpolation=cv2.INTER_LINEAR)
    return mask, len(kept)
