"""`mizual edit --parent`: a chain's next step edits the parent's result; and the 429s the
command waits out, or does not."""

from __future__ import annotations

import re
from pathlib import Path

import pyvips

from tests.cli.test_client_commands import mizual, one_line_error
from tests.support import MizualServer, colourfulness, encode, gradient_image, jpeg_bytes, submit


def edit_id_of(stdout: str) -> str:
    return stdout.split("(edit ")[1].rstrip(")\n")


def test_parent_alone_edits_the_parents_result(server: MizualServer, tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_bytes(320, 240))  # colourful, landscape
    first = mizual("edit", str(photo), "make it black and white", "--server", server.url)
    assert first.returncode == 0, first.stderr
    step1 = edit_id_of(first.stdout)

    here = tmp_path / "elsewhere"
    here.mkdir()
    second = mizual(
        "edit", "rotate 90 degrees", "--parent", step1, "--server", server.url, cwd=here
    )

    assert second.returncode == 0, second.stderr
    assert f"Editing the result of edit {step1} (step 2 of its chain)\n" in second.stdout
    step2 = edit_id_of(second.stdout)
    saved = here / f"{step2}.jpg"  # no PHOTO: named after the edit, in the current folder
    assert f"Saved {saved.name} (edit {step2})" in second.stdout
    result = pyvips.Image.new_from_file(str(saved))
    assert colourfulness(result) < 1.0  # from step 1's result, not from the colourful photo
    assert (result.width, result.height) == (240, 320)  # and rotated
    chain = mizual("chain", step2, "--server", server.url)
    assert f"1. {step1}" in chain.stdout
    assert f"2. {step2}" in chain.stdout


def test_parent_with_a_photo_still_edits_the_parents_result(
    server: MizualServer, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_bytes(320, 240))
    first = mizual("edit", str(photo), "make it black and white", "--server", server.url)
    assert first.returncode == 0, first.stderr
    step1 = edit_id_of(first.stdout)
    other = tmp_path / "other.png"  # colourful too, and of another size
    other.write_bytes(encode(gradient_image(100, 60), ".png"))

    second = mizual(
        "edit", str(other), "flip it horizontally", "--parent", step1, "--server", server.url
    )

    assert second.returncode == 0, second.stderr
    assert (
        f"Editing the result of edit {step1} (step 2 of its chain); {other} is not uploaded\n"
        in second.stdout
    )
    saved = tmp_path / "other.edited.jpg"  # named after PHOTO, as without --parent
    result = pyvips.Image.new_from_file(str(saved))
    assert colourfulness(result) < 1.0
    assert (result.width, result.height) == (320, 240)


def test_one_argument_without_parent_says_what_is_needed(tmp_path: Path) -> None:
    result = mizual("edit", "make it black and white", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        'mizual: edit needs PHOTO and PROMPT, e.g. mizual edit photo.jpg "make it black and '
        'white"; or PROMPT alone with --parent UUID, to edit the result of edit UUID'
    ]


IMAGE = jpeg_bytes(64, 48)
RETRYING = re.compile(r"^mizual: rate limited, retrying in (\d+) s$", re.MULTILINE)


def test_a_burst_limit_is_waited_out_unless_no_wait(make_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # A window long enough that both commands below start inside it, however slow the machine.
    server = make_server({"RATE_LIMIT_BURST_SECONDS": "8"})
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(IMAGE)
    with server.client() as client:
        assert submit(client, "make it brighter", IMAGE).status_code == 200

    refused = mizual("edit", str(photo), "flip it", "--no-wait", "--server", server.url)
    one_line_error(refused, "only one edit every 8 seconds is allowed", "Try again in")
    assert not RETRYING.search(refused.stderr)

    waited = mizual("edit", str(photo), "flip it", "--server", server.url)
    assert waited.returncode == 0, waited.stderr
    (seconds,) = RETRYING.findall(waited.stderr)
    assert 1 <= int(seconds) <= 8
    assert "Saved" in waited.stdout
    assert (tmp_path / "photo.edited.jpg").exists()


def test_a_daily_limit_fails_at_once(make_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = make_server(
        {
            "RATE_LIMIT_DAILY_IMAGES": "1",
            "RATE_LIMIT_BURST_SECONDS": "0",
            "RATE_LIMIT_STATUS_CHECKS_PER_MINUTE": "1",
        }
    )
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(IMAGE)
    with server.client() as client:
        edit_id = submit(client, "make it brighter", IMAGE).json()["edit_id"]

    # Its Retry-After is hours away: no waiting (the timeout would end a command that slept).
    refused = mizual("edit", str(photo), "flip it", "--server", server.url, timeout=60)
    one_line_error(refused, "at most 1 edits a day are allowed per client", "Try again in")
    assert not RETRYING.search(refused.stderr)
    assert not (tmp_path / "photo.edited.jpg").exists()

    # The status checks' minute would be waited out; --no-wait says the server's refusal.
    assert mizual("status", edit_id, "--server", server.url).returncode == 0
    one_line_error(mizual("status", edit_id, "--no-wait", "--server", server.url), "Try again in")
