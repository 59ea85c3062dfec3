"""Edits run in threads (`MAX_WORKERS`, a worker's pool) and share the process's one `Seeing`:
what each sees must not depend on what the others look at meanwhile. (OpenCV's networks keep
their input and outputs in themselves; unguarded, 116 of 120 parallel looks came back with
another photo's faces.)"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from skimage import data as samples

from mizual.localedit.seeing import seeing

PHOTOS = ("astronaut", "coffee", "chelsea", "camera")


def _rgb(name: str) -> np.ndarray:
    pixels = getattr(samples, name)()
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    return np.ascontiguousarray(pixels[..., :3])


def test_faces_and_people_seen_in_parallel_threads_are_those_seen_one_at_a_time() -> None:
    photos = {name: _rgb(name) for name in PHOTOS}
    shared = seeing()
    faces = {name: shared.faces(pixels) for name, pixels in photos.items()}
    people = {name: shared.people(pixels) for name, pixels in photos.items()}

    def look(number: int) -> tuple[str, bool, bool]:
        name = PHOTOS[number % len(PHOTOS)]
        seen = shared.people(photos[name])
        wanted = people[name]
        same_people = (seen is None and wanted is None) or (
            seen is not None
            and wanted is not None
            and seen[1] == wanted[1]
            and np.array_equal(seen[0], wanted[0])
        )
        return name, shared.faces(photos[name]) == faces[name], same_people

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(look, range(48)))
    assert [name for name, same_faces, _ in results if not same_faces] == []
    assert [name for name, _, same_people in results if not same_people] == []
    assert faces["astronaut"]  # the test sees something
    assert people["astronaut"] is not None
