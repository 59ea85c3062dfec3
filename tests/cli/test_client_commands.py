"""`mizual edit`, `mizual status` and `mizual chain`, run as a person runs them: a separate
process talking to a running server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyvips

from tests.support import (
    MizualServer,
    colourfulness,
    encode,
    free_port,
    gradient_image,
    jpeg_bytes,
)


def mizual(
    *args: str,
    timeout: float = 60,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """The command as a person runs it; `timeout` also bounds any wait it decides on."""
    return subprocess.run(
        [sys.executable, "-m", "mizual", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**{k: v for k, v in os.environ.items() if k != "MIZUAL_SERVER"}, **(env or {})},
    )


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit status 1, and on stderr a last line `mizual: ...` that says these words."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("mizual: "), result.stderr
    for word in words:
        assert word in last, last
    return last


def test_edit_saves_the_result_next_to_the_photo(server: MizualServer, tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_bytes())

    result = mizual("edit", str(photo), "make it black and white", "--server", server.url)

    assert result.returncode == 0, result.stderr
    saved = tmp_path / "photo.edited.jpg"
    assert f"Saved {saved}" in result.stdout
    assert colourfulness(pyvips.Image.new_from_file(str(saved))) < 1.0
    # The stage messages, as they came (not a terminal: one line each).
    assert "Your edited image is ready!" in result.stderr
    edit_id = result.stdout.split("(edit ")[1].rstrip(")\n")

    status = mizual("status", edit_id, "--server", server.url)
    assert status.returncode == 0, status.stderr
    assert f"Edit {edit_id}: completed (100%)" in status.stdout
    assert "make it black and white" in status.stdout
    as_json = mizual("status", edit_id, "--server", server.url, "--json")
    assert json.loads(as_json.stdout)["edited_image_url"].endswith(f"{edit_id}.jpg")


def test_result_with_transparency_is_saved_as_png_and_chains(
    server: MizualServer, tmp_path: Path
) -> None:
    photo = tmp_path / "shot.png"
    photo.write_bytes(encode(gradient_image(), ".png"))
    first = mizual("edit", str(photo), "flip it horizontally", "--server", server.url)
    assert first.returncode == 0, first.stderr
    parent = first.stdout.split("(edit ")[1].rstrip(")\n")

    # A rotation by 30° leaves transparent corners: PNG, and the name says so.
    second = mizual(
        "edit",
        str(tmp_path / "shot.edited.jpg"),
        "rotate 30 degrees",
        "--parent",
        parent,
        "--server",
        server.url,
    )
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "shot.edited.edited.png").read_bytes()[:4] == b"\x89PNG"
    child = second.stdout.split("(edit ")[1].rstrip(")\n")

    chain = mizual("chain", child, "--server", server.url)
    assert chain.returncode == 0, chain.stderr
    assert "Chain of 2 edits" in chain.stdout
    assert f"1. {parent}" in chain.stdout
    assert f"2. {child}" in chain.stdout
    body = json.loads(mizual("chain", parent, "--server", server.url, "--json").stdout)
    assert body["chain_length"] == 2


def test_output_option_names_the_file(server: MizualServer, tmp_path: Path) -> None:
    photo = tmp_path / "in.jpg"
    photo.write_bytes(jpeg_bytes(64, 48))
    target = tmp_path / "elsewhere" / "out.jpg"
    target.parent.mkdir()
    result = mizual(
        "edit", str(photo), "make it brighter", "-o", str(target), "--server", server.url
    )
    assert result.returncode == 0, result.stderr
    assert target.read_bytes()[:3] == b"\xff\xd8\xff"


def test_format_option_asks_for_an_avif_result_and_names_the_file_for_it(
    server: MizualServer, tmp_path: Path
) -> None:
    photo = tmp_path / "beach.jpg"
    photo.write_bytes(jpeg_bytes(96, 64))
    result = mizual(
        "edit", str(photo), "make it brighter", "--format", "AVIF", "--server", server.url
    )
    assert result.returncode == 0, result.stderr
    saved = tmp_path / "beach.edited.avif"
    assert f"Saved {saved}" in result.stdout
    decoded = pyvips.Image.new_from_file(str(saved))
    assert (decoded.width, decoded.height) == (96, 64)
    assert decoded.get("vips-loader").startswith("heif")


def test_edit_the_offline_editor_refuses_fails_with_its_reason(
    server: MizualServer, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_bytes(64, 48))
    result = mizual("edit", str(photo), "add a hat", "--server", server.url)
    one_line_error(result, "the edit failed", "did not understand 'add a hat'", "Try for example")
    assert not list(tmp_path.glob("photo.edited.*"))

    # The server says a failed edit is complete (processing finished) and in error: failed.
    edit_id = result.stderr.split("Edit ", 1)[1].split(" submitted")[0]
    status = mizual("status", edit_id, "--server", server.url)
    assert f"Edit {edit_id}: failed at ai_processing" in status.stdout, status.stdout
    assert "completed" not in status.stdout.splitlines()[0]
    chain = mizual("chain", edit_id, "--server", server.url)
    assert f"1. {edit_id}  failed at ai_processing" in chain.stdout, chain.stdout


def test_refusals_and_local_problems_are_one_line(server: MizualServer, tmp_path: Path) -> None:
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("just some words")
    one_line_error(
        mizual("edit", str(not_an_image), "flip it", "--server", server.url),
        "not a recognised image",
    )
    one_line_error(
        mizual("edit", str(tmp_path / "missing.jpg"), "flip it", "--server", server.url),
        "missing.jpg: no such file",
    )
    one_line_error(mizual("edit", str(tmp_path), "flip it", "--server", server.url), "is a folder")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_bytes(64, 48))
    one_line_error(
        mizual("edit", str(photo), "flip it", "--parent", "nope", "--server", server.url),
        "parent_edit_uuid",
        "not a valid edit id",
    )
    one_line_error(
        mizual("status", "00000000-0000-4000-8000-000000000000", "--server", server.url),
        "no edit 00000000-0000-4000-8000-000000000000 exists",
    )
    one_line_error(mizual("chain", "nope", "--server", server.url), "not a valid edit id")


def test_server_unreachable_is_one_line(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_bytes(64, 48))
    nowhere = f"http://127.0.0.1:{free_port()}"
    one_line_error(
        mizual("edit", str(photo), "flip it", "--server", nowhere), "cannot reach", nowhere
    )
    one_line_error(
        mizual("status", "00000000-0000-4000-8000-000000000000", "--server", nowhere),
        "cannot reach",
    )
