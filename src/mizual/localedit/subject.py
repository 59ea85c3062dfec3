"""Where the subject of a photo is: a foreground mask for the background edits.

In a photo of people the subject is the people, as the selfie segmentation finds them
(`people.py`, gated by the faces found). Otherwise the mask is found on a copy at most 384 px on
its longer side (about a second whatever the photo's size) by OpenCV's GrabCut, which models the
colours of subject and background and cuts between them. GrabCut needs a first guess. A
detected face gives a good one: the person is the face and the body below it. With no face, the
subject is guessed to be in the middle. The top, left and right edges of the photo are taken to
be background; the bottom edge is not, since a person or an object on a table is usually cut by
it.
"""

from __future__ import annotations

import cv2
import numpy as np
import pyvips

# GrabCut's time grows quickly with the size (seconds at 512 px on a blurry photo).
WORKING_SIDE = 384
GRABCUT_ITERATIONS = 4
# The mask's edge is softened over a few pixels of the small copy (several at full size), so
# the subject blends into the changed background instead of being cut out with a jagged edge.
FEATHER_SIGMA = 2.0
EDGE_SHARE = 0.03  # the strip along the top, left and right edges taken as background
FACE_CASCADE = "haarcascade_frontalface_default.xml"
# Parts of the mask smaller than this share of the largest part are specks of background.
SPECK_SHARE = 0.05
# Enclosed background up to this share of the subject's area is taken as part of the subject.
HOLE_SHARE = 0.1

Box = tuple[int, int, int, int]  # x, y, width, height


def subject_mask(colour: pyvips.Image) -> pyvips.Image:
    """A feathered 8-bit mask, 255 on the subject and 0 on the background, at most WORKING_SIDE
    pixels on its longer side: the caller scales it to the photo's size. The people of the
    photo if it has any (`people.py`), else what GrabCut finds."""
    from mizual.localedit.operations.pixels import rgb_array

    pixels, _ = rgb_array(colour, longest=WORKING_SIDE)
    people = _people(pixels)
    found = people if people is not None else find_subject(pixels).astype(np.float32)
    feathered = cv2.GaussianBlur(found * 255, (0, 0), FEATHER_SIGMA)
    mask = np.clip(np.rint(feathered), 0, 255).astype(np.uint8)
    return pyvips.Image.new_from_array(mask).copy(interpretation="b-w")


def _people(pixels: np.ndarray) -> np.ndarray | None:
    """0..1 on the people of the photo, or None: none found, or this installation cannot look
    for them (then GrabCut does the work, as it did before the editor could see people)."""
    from mizual.localedit.findings import SeeingUnavailable
    from mizual.localedit.seeing import seeing

    try:
        found = seeing().people(pixels)
    except SeeingUnavailable:
        return None
    return None if found is None else found[0]


def find_subject(pixels: np.ndarray) -> np.ndarray:
    """True on the subject of an RGB photo (a small one: GrabCut is slow on big ones)."""
    grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    faces = detect_faces(grey)
    seeds = first_guess(grey.shape[:2], faces)
    guessed = seeds == cv2.GC_PR_FGD
    # GrabCut starts its colour models with k-means from OpenCV's random generator: seeded, so
    # the same photo always gets the same mask.
    cv2.setRNGSeed(0)
    background_model = np.zeros((1, 65), np.float64)
    foreground_model = np.zeros((1, 65), np.float64)
    cv2.grabCut(
        pixels,
        seeds,
        (0, 0, 0, 0),  # no rectangle: the seeds are the first guess
        background_model,
        foreground_model,
        GRABCUT_ITERATIONS,
        cv2.GC_INIT_WITH_MASK,
    )
    subject = (seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)
    subject = _main_parts(subject, faces)
    # GrabCut can lose everything on a photo whose subject has the background's colours: the
    # first guess is then a better mask than none.
    return subject if subject.any() else guessed


def detect_faces(grey: np.ndarray) -> list[Box]:
    """Frontal faces at least a twelfth of the photo's shorter side, and no smaller than half
    the largest one (a face in the crowd is not the subject)."""
    folder = cv2.data.haarcascades  # type: ignore[attr-defined]  # not in OpenCV's stubs
    classifier = cv2.CascadeClassifier(str(folder) + FACE_CASCADE)
    smallest = max(24, min(grey.shape) // 12)
    found = classifier.detectMultiScale(
        cv2.equalizeHist(grey), scaleFactor=1.1, minNeighbors=6, minSize=(smallest, smallest)
    )
    faces: list[Box] = [(int(x), int(y), int(w), int(h)) for x, y, w, h in found]
    if not faces:
        return []
    largest = max(w for _, _, w, _ in faces)
    return [face for face in faces if face[2] >= largest / 2]


def first_guess(shape: tuple[int, int], faces: list[Box]) -> np.ndarray:
    """GrabCut's starting labels: probably background everywhere, probably subject where a
    body is expected (under each face, or in the middle), certainly subject in the middle of
    each face and under it, and certainly background along the top, left and right edges."""
    height, width = shape
    seeds = np.full((height, width), cv2.GC_PR_BGD, np.uint8)
    if faces:
        for x, y, w, h in faces:
            # Shoulders are about three faces wide; the body goes down out of the picture.
            top, left = max(0, y - h // 2), max(0, x - w)
            seeds[top:, left : x + 2 * w] = cv2.GC_PR_FGD
    else:
        seeds[height // 8 :, width // 6 : width - width // 6] = cv2.GC_PR_FGD
    edge = max(2, round(EDGE_SHARE * min(height, width)))
    seeds[:edge, :] = cv2.GC_BGD
    seeds[:, :edge] = cv2.GC_BGD
    seeds[:, width - edge :] = cv2.GC_BGD
    for x, y, w, h in faces:
        seeds[y + h // 5 : y + h - h // 5, x + w // 5 : x + w - w // 5] = cv2.GC_FGD
        # The neck (or collar) under the face, so that a dark one does not cut the face off.
        seeds[y + h : y + h + h // 2, x + w // 3 : x + w - w // 3] = cv2.GC_FGD
    return seeds


def _main_parts(subject: np.ndarray, faces: list[Box]) -> np.ndarray:
    """The mask without specks (GrabCut keeps bits of background that happen to have the
    subject's colours) and with small holes filled (a dark collar or a badge that has the
    background's colours). A part with a face is never a speck."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        subject.astype(np.uint8), connectivity=8
    )
    if count <= 1:
        return subject
    areas = stats[1:, cv2.CC_STAT_AREA]
    kept = {1 + int(part) for part in np.flatnonzero(areas >= SPECK_SHARE * areas.max())}
    kept |= {int(labels[y + h // 2, x + w // 2]) for x, y, w, h in faces} - {0}
    subject = np.isin(labels, sorted(kept))
    holes = _holes(subject, largest=HOLE_SHARE * int(subject.sum()))
    return np.asarray(subject | holes, dtype=bool)


def _holes(subject: np.ndarray, *, largest: float) -> np.ndarray:
    """Parts of the background enclosed by the subject (touching no edge of the photo), up to
    `largest` pixels: bigger ones are more likely real background, seen between arm and body."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        (~subject).astype(np.uint8), connectivity=4
    )
    height, width = subject.shape
    holes = [
        label
        for label in range(1, count)
        if stats[label, cv2.CC_STAT_AREA] <= largest
        and stats[label, cv2.CC_STAT_LEFT] > 0
        and stats[label, cv2.CC_STAT_TOP] > 0
        and stats[label, cv2.CC_STAT_LEFT] + stats[label, cv2.CC_STAT_WIDTH] < width
        and stats[label, cv2.CC_STAT_TOP] + stats[label, cv2.CC_STAT_HEIGHT] < height
    ]
    return np.isin(labels, holes)
