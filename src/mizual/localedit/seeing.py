"""What the offline editor sees in a photo: the faces and people in it, its sky, and how far it is
tilted.

`Seeing` is the seam: the operations ask it, never a model directly, so what is behind it can be
swapped. The tilt comes from the photo's straight lines (`lines.py`), the sky from its colours
and smoothness (`sky.py`). The faces come from
MediaPipe's BlazeFace short-range face detector (Apache-2.0, the
`.tflite` file of the `mediapipe` 0.10.14 wheel, 230 kB, kept in `models/`) through OpenCV's own
TFLite reader: no other package, nothing downloaded at run time.

The detector looks at 128x128 pixels and finds faces that fill at least about a tenth of that
square. To find smaller faces too, it also looks at overlapping tiles of the photo (halves and
thirds of its longer side); what several looks found twice is merged.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

from mizual.localedit import tflite
from mizual.localedit.lines import Tilt, tilt

if TYPE_CHECKING:
    from mizual.localedit.people import SelfieSegmenter
    from mizual.localedit.sky import Sky

MODEL = "face_detection_short_range.tflite"
INPUT_SIDE = 128
# BlazeFace's anchors: two per cell of a 16x16 grid (stride 8), six per cell of an 8x8 grid.
ANCHOR_GRIDS = ((16, 2), (8, 6))
# A face is kept from this confidence (MediaPipe's own default is 0.5). Each tile is another
# chance to see a face in a pattern (galaxies, coins, a cat scored up to 0.67 in the tiles of
# scikit-image's photos), so a face a tile alone found needs more; real faces scored 0.9 or more.
MIN_SCORE = 0.6
MIN_SCORE_IN_A_TILE = 0.8
# Two boxes overlapping by more than this (intersection over union) are one face.
SAME_FACE_IOU = 0.3
# The tiles: the photo's longer side cut in 2 and in 3, each tile overlapping its neighbours by
# half, so that a face on a cut is whole in some tile.
TILINGS = (2, 3)


Point = tuple[float, float]


@dataclass(frozen=True)
class Face:
    x: int
    y: int
    width: int
    height: int
    score: float
    # The centres of the two eyes, the one on the photo's left first (BlazeFace's keypoints).
    eyes: tuple[Point, Point] = ((0.0, 0.0), (0.0, 0.0))

    def scaled(self, factor: float) -> Face:
        (left_x, left_y), (right_x, right_y) = self.eyes
        return Face(
            x=round(self.x * factor),
            y=round(self.y * factor),
            width=round(self.width * factor),
            height=round(self.height * factor),
            score=self.score,
            eyes=((left_x * factor, left_y * factor), (right_x * factor, right_y * factor)),
        )


class Seeing(Protocol):
    def faces(self, pixels: np.ndarray) -> list[Face]:
        """The faces of an 8-bit RGB photo (height x width x 3), most confident first."""
        ...

    def tilt(self, pixels: np.ndarray) -> Tilt | None:
        """How far the photo's straight lines say it is tilted, or None if they do not agree."""
        ...

    def people(self, pixels: np.ndarray) -> tuple[np.ndarray, int] | None:
        """0..1 on the people of the photo (at its size) and how many figures, or None."""
        ...

    def sky(self, pixels: np.ndarray) -> Sky | None:
        """0..1 on the sky of the photo (at its size) and its share, or None if none is seen."""
        ...


class OfflineSeeing:
    """Faces by BlazeFace, people by the selfie segmentation of `people.py` (each model read at
    its first use), tilt by the photo's straight lines (`lines.py`), sky by `sky.py`."""

    def __init__(self) -> None:
        self._faces: BlazeFaceSeeing | None = None
        self._segmenter: SelfieSegmenter | None = None
        self._loading = threading.Lock()  # each model read once, whichever thread asks first

    def faces(self, pixels: np.ndarray) -> list[Face]:
        with self._loading:
            if self._faces is None:
                self._faces = BlazeFaceSeeing()
        return self._faces.faces(pixels)

    def tilt(self, pixels: np.ndarray) -> Tilt | None:
        return tilt(pixels)

    def people(self, pixels: np.ndarray) -> tuple[np.ndarray, int] | None:
        from mizual.localedit.people import SelfieSegmenter, people_mask

        faces = self.faces(pixels)
        if not faces:
            return None
        with self._loading:
            if self._segmenter is None:
                self._segmenter = SelfieSegmenter()
        return people_mask(self._segmenter, pixels, faces)

    def sky(self, pixels: np.ndarray) -> Sky | None:
        from mizual.localedit.sky import sky

        return sky(pixels)


class BlazeFaceSeeing:
    def __init__(self) -> None:
        self._net = tflite.load(MODEL, finding="faces")
        # One network serves every thread of the process (edits run in threads); OpenCV's
        # networks keep their input and outputs in themselves, so two looks at once would mix
        # them up: one look at a time (2-4 ms each).
        self._lock = threading.Lock()
        self._anchors = _anchors()

    def faces(self, pixels: np.ndarray) -> list[Face]:
        height, width = pixels.shape[:2]
        found: list[Face] = []
        for number, (x, y, side) in enumerate(_views(width=width, height=height)):
            view = pixels[y : y + side, x : x + side]
            found += self._look(view, x=x, y=y, least=MIN_SCORE_IN_A_TILE if number else MIN_SCORE)
        return _merged(found)

    def _look(self, view: np.ndarray, *, x: int, y: int, least: float) -> list[Face]:
        """The faces of one square view (padded at its right or bottom if the photo ends) that
        score `least` or more, in the photo's coordinates."""
        side = max(view.shape[:2])
        square = np.zeros((side, side, 3), np.uint8)
        square[: view.shape[0], : view.shape[1]] = view
        blob = cv2.dnn.blobFromImage(
            square, 1 / 127.5, (INPUT_SIDE, INPUT_SIDE), (127.5, 127.5, 127.5)
        )
        with self._lock:
            self._net.setInput(blob)
            names = self._net.getUnconnectedOutLayersNames()
            # Copied while held: the arrays may share the network's own buffers.
            outputs = [np.array(output, copy=True) for output in self._net.forward(names)]
        regressors = next(o for o in outputs if o.shape[-1] == 16).reshape(-1, 16)
        logits = next(o for o in outputs if o.shape[-1] == 1).reshape(-1)
        scores = 1 / (1 + np.exp(-np.clip(logits.astype(np.float64), -80, 80)))
        faces = []
        for index in np.flatnonzero(scores >= least):
            anchor_x, anchor_y = self._anchors[index]
            dx, dy, w, h = regressors[index, :4] / INPUT_SIDE
            centre_x, centre_y = anchor_x + dx, anchor_y + dy
            # Keypoints 0 and 1 (of 6): the eyes, as offsets from the anchor like the centre.
            eyes = [
                (
                    x + float(anchor_x + regressors[index, 4 + 2 * k] / INPUT_SIDE) * side,
                    y + float(anchor_y + regressors[index, 5 + 2 * k] / INPUT_SIDE) * side,
                )
                for k in (0, 1)
            ]
            eyes.sort()
            faces.append(
                Face(
                    x=x + round((centre_x - w / 2) * side),
                    y=y + round((centre_y - h / 2) * side),
                    width=round(w * side),
                    height=round(h * side),
                    score=float(scores[index]),
                    eyes=(eyes[0], eyes[1]),
                )
            )
        return faces


def _anchors() -> np.ndarray:
    """The centre of each of BlazeFace's 896 anchors, in units of its input's side."""
    centres = []
    for cells, per_cell in ANCHOR_GRIDS:
        for row in range(cells):
            for column in range(cells):
                centres += [((column + 0.5) / cells, (row + 0.5) / cells)] * per_cell
    return np.array(centres, np.float32)


def _views(*, width: int, height: int) -> list[tuple[int, int, int]]:
    """(x, y, side) of each square the detector looks at: the whole photo, then the tiles."""
    views = [(0, 0, max(width, height))]
    for parts in TILINGS:
        side = math.ceil(max(width, height) / parts)
        if side < INPUT_SIDE:
            break  # a tile smaller than the detector's input shows nothing new
        step = side // 2
        for y in range(0, max(1, height - step), step):
            for x in range(0, max(1, width - step), step):
                views.append((x, y, side))
    return views


def _merged(faces: list[Face]) -> list[Face]:
    """One box per face: the most confident of each group of overlapping boxes."""
    kept: list[Face] = []
    for face in sorted(faces, key=lambda found: found.score, reverse=True):
        if all(_overlap(face, other) <= SAME_FACE_IOU for other in kept):
            kept.append(face)
    return kept


def _overlap(a: Face, b: Face) -> float:
    across = min(a.x + a.width, b.x + b.width) - max(a.x, b.x)
    down = min(a.y + a.height, b.y + b.height) - max(a.y, b.y)
    if across <= 0 or down <= 0:
        return 0.0
    shared = across * down
    # A small box inside a big one is the same face seen by a tile: merged as well.
    smaller = min(a.width * a.height, b.width * b.height)
    return max(shared / (a.width * a.height + b.width * b.height - shared), shared / smaller / 2)


@functools.cache
def seeing() -> Seeing:
    """The process' one `Seeing` (the face model is read once)."""
    return OfflineSeeing()
