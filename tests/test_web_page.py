"""The web page at `/`, driven as a person would in Debian's Chromium (through Playwright, which
never downloads a browser here): pick a photo, type a prompt, follow the progress, compare,
download, chain a second edit, rate it, and read every refusal as a sentence.

Chromium comes from `make browser` (.ci/run calls it). Where /usr/bin/chromium is missing these
tests skip, except in CI (CI=true), where they fail. Screenshots of the finished page go to
tests/artifacts/; with MIZUAL_UPDATE_SCREENSHOTS=1 the README's picture, docs/images/web-page.png,
is rewritten as well.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pyvips
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect

from mizual.web import STATIC_DIR
from tests.browser import chromium
from tests.support import (
    MizualServer,
    colourfulness,
    edit_and_wait,
    encode,
    jpeg_bytes,
    submit,
)

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# Rewritten by a run with MIZUAL_UPDATE_SCREENSHOTS=1.
DOCS_PICTURE = ROOT / "docs" / "images" / "web-page.png"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
READY = "Your edited image is ready!"
# The server's own status-check limit, not the shared server's relaxed one: a reload must fit in
# it. Edits may follow each other at once.
REAL_STATUS_LIMIT = {"RATE_LIMIT_STATUS_CHECKS_PER_MINUTE": "30"}
# A 1x1 GIF: a format the server refuses with a reason.
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")

# Each change of the progress message, with the bar's value at that moment.
RECORD_PROGRESS = """() => {
  window.__progress = [];
  const message = document.getElementById("progress-message");
  const bar = document.getElementById("progress-bar");
  new MutationObserver(() => {
    const text = message.textContent;
    const last = window.__progress.at(-1);
    if (!last || last.text !== text) window.__progress.push({ text, value: bar.value });
  }).observe(message, { childList: true, characterData: true, subtree: true });
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as instance:
        yield instance


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[[MizualServer], Page]]:
    """A fresh browser context on a server's page; fails the test on any script error or
    Content-Security-Policy violation of the page's own code."""
    problems: list[str] = []
    contexts = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            problems.append(message.text)

    def start(server: MizualServer) -> Page:
        context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", on_console)
        page.goto(f"{server.url}/")
        expect(page.get_by_role("heading", name="Mizual")).to_be_visible()
        return page

    yield start
    for context in contexts:
        context.close()
    assert problems == []


@pytest.fixture(scope="module")
def astronaut_jpeg() -> bytes:
    from skimage import data

    return encode(pyvips.Image.new_from_array(data.astronaut(), interpretation="srgb"), Q=90)


def choose(page: Page, data: bytes, name: str = "astronaut.jpg", mime: str = "image/jpeg") -> None:
    page.get_by_label("Choose an image").set_input_files(
        {"name": name, "mimeType": mime, "buffer": data}
    )


def drop(page: Page, data: bytes, name: str, mime: str) -> None:
    """Drop a file on the drop zone, as from a file manager."""
    transfer = page.evaluate_handle(
        """([b64, name, type]) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const transfer = new DataTransfer();
          transfer.items.add(new File([bytes], name, { type }));
          return transfer;
        }""",
        [base64.b64encode(data).decode(), name, mime],
    )
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})


def edit_id(page: Page) -> str:
    value = page.get_attribute("#progress-section", "data-edit")
    assert value
    return value


def wait_for_result(page: Page) -> None:
    """Until the result of the edit being followed is shown and its image has loaded."""
    page.wait_for_function(
        """() => {
          const img = document.getElementById("after-image");
          const following = document.getElementById("progress-section").dataset.edit;
          return !document.getElementById("result-section").hidden && img.complete
            && img.naturalWidth > 0 && img.src.includes(following)
            && window.mizual.state.shown?.uuid === following;
        }"""
    )


def address(server: MizualServer, edit: str) -> str:
    return f"{server.url}/?edit={edit}"


def expect_no_result(page: Page) -> None:
    """Nothing of a result: no picture, no download, no way to continue from it, no rating."""
    expect(page.locator("#result-section")).to_be_hidden()
    expect(page.get_by_role("link", name="Download")).to_have_count(0)
    expect(page.get_by_role("button", name="Edit this result")).to_have_count(0)
    expect(page.get_by_alt_text(re.compile("^The image after"))).to_be_hidden()
    expect(page.get_by_role("button", name="👍 Yes")).to_have_count(0)


def status_of(server: MizualServer, edit: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/edit/{edit}", timeout=10)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def test_the_page_is_served_at_the_root_and_the_api_docs_still_are(server: MizualServer) -> None:
    page = httpx.get(f"{server.url}/", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="/static/app.js">' in page.text
    assert "{{" not in page.text  # the upload limit is filled in
    for name in ("app.js", "api.js", "style.css"):
        response = httpx.get(f"{server.url}/static/{name}", timeout=10)
        assert response.status_code == 200, name
        assert response.headers["cache-control"] == "no-cache"
    assert httpx.get(f"{server.url}/static/missing.js", timeout=10).status_code == 404
    assert httpx.get(f"{server.url}/docs", timeout=10).status_code == 200
    assert "/" not in httpx.get(f"{server.url}/openapi.json", timeout=10).json()["paths"]


def test_the_wheel_carries_every_file_of_the_page() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["mizual"]
    package = STATIC_DIR.parent.parent
    files = [path.relative_to(package).as_posix() for path in STATIC_DIR.rglob("*")]
    assert {"web/static/index.html", "web/static/app.js", "web/static/style.css"} <= set(files)
    unpackaged = [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)]
    assert unpackaged == []


def test_edit_follow_compare_download_chain_and_rate(
    server: MizualServer,
    open_page: Callable[[MizualServer], Page],
    astronaut_jpeg: bytes,
) -> None:
    page = open_page(server)
    ARTIFACTS.mkdir(exist_ok=True)

    # Keyboard: the file picker, the prompt and the submit button come in that order.
    reached: list[str] = []
    for _ in range(15):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("() => document.activeElement.id"))
    assert reached.index("image-input") < reached.index("prompt") < reached.index("submit-button")

    choose(page, astronaut_jpeg)
    expect(page.get_by_alt_text("Preview of the image you chose")).to_be_visible()
    expect(page.locator("#preview-caption")).to_contain_text("astronaut.jpg")
    page.get_by_label("What should change?").fill("make it black and white")
    page.evaluate(RECORD_PROGRESS)
    page.get_by_role("button", name="Edit image").click()

    wait_for_result(page)
    first = edit_id(page)
    progress = page.evaluate("() => window.__progress")
    messages = [step["text"] for step in progress]
    values = [step["value"] for step in progress]
    print("messages seen:", messages)
    assert messages[-1] == READY
    assert values == sorted(values), f"progress went backwards: {progress}"
    assert len(messages) >= 2  # at least "Uploading your image…" and the final one
    expect(page.get_by_role("status").first).to_have_text(READY)

    view = status_of(server, first)
    assert view["is_complete"]
    assert page.get_attribute("#after-image", "src") == view["edited_image_url"]
    assert page.get_attribute("#before-image", "src") == view["original_image_url"]
    paths = httpx.get(f"{server.url}/openapi.json", timeout=10).json()["paths"]
    transport = page.get_attribute("#progress-section", "data-transport")
    assert transport == ("events" if "/edit/{edit_uuid}/events" in paths else "polling")

    # Before/after slider, moved with the keyboard.
    page.get_by_label("Before/after slider").check()
    expect(page.locator("#slider-view")).to_be_visible()
    expect(page.locator("#side-view")).to_be_hidden()
    slider = page.get_by_label("Where before turns into after")
    slider.focus()
    page.keyboard.press("ArrowRight")
    assert slider.input_value() == "51"
    page.get_by_label("Side by side").check()

    # Download gives the grey result.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download").click()
    assert re.fullmatch(r"mizual-[0-9a-f]{8}\.jpg", download_info.value.suggested_filename)
    saved = ARTIFACTS / "downloaded-result.jpg"
    download_info.value.save_as(saved)
    assert colourfulness(pyvips.Image.new_from_file(str(saved))) < 1.0
    assert colourfulness(pyvips.Image.new_from_buffer(astronaut_jpeg, "")) > 10

    # Chain: edit the result, without sending an image again.
    page.get_by_role("button", name="Edit this result").click()
    expect(page.get_by_label("What should change?")).to_be_focused()
    expect(page.locator("#chain-source-text")).to_contain_text("result of step 1")
    page.get_by_label("What should change?").fill("rotate 90 degrees clockwise")
    page.evaluate(RECORD_PROGRESS)
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        f"() => document.getElementById('progress-section').dataset.edit !== '{first}'"
    )
    wait_for_result(page)
    second = edit_id(page)
    assert page.evaluate("() => window.__progress").pop()["text"] == READY
    second_view = status_of(server, second)
    assert second_view["parent_edit_uuid"] == first
    assert second_view["chain_position"] == 2
    expect(page.locator("#chain-source-text")).to_contain_text("result of step 2")

    strip = page.get_by_role("list").filter(has=page.locator(".thumb"))
    thumbs = page.locator("#chain-strip .thumb")
    expect(thumbs).to_have_count(2)
    expect(strip).to_be_visible()
    expect(thumbs.nth(0)).to_have_attribute("aria-label", "Step 1: make it black and white")
    expect(thumbs.nth(1)).to_have_attribute("aria-current", "step")
    for index in range(2):
        assert thumbs.nth(index).locator("img").evaluate("img => img.naturalWidth") > 0
    # Choosing step 1 shows it again; step 2 comes back the same way.
    thumbs.nth(0).click()
    expect(page.locator("#result-prompt")).to_have_text("Step 1: “make it black and white”")
    thumbs.nth(1).click()
    expect(page.locator("#result-prompt")).to_have_text("Step 2: “rotate 90 degrees clockwise”")

    # 👎 needs words; with them it is recorded once.
    feedback_status = page.locator("#feedback-status")
    page.get_by_role("button", name="👎 No").click()
    expect(feedback_status).to_contain_text("Tell us what went wrong")
    expect(page.get_by_label("Tell us more (needed with 👎)")).to_be_focused()
    page.get_by_label("Tell us more (needed with 👎)").fill("The rotation went the wrong way.")
    page.get_by_role("button", name="👎 No").click()
    expect(feedback_status).to_have_text("Thank you for your feedback! You rated this edit 👎.")
    expect(page.get_by_role("button", name="👍 Yes")).to_be_disabled()
    again = httpx.post(
        f"{server.url}/feedback/", json={"edit_uuid": second, "rating": 1}, timeout=10
    )
    assert again.status_code == 409  # the page's rating was stored

    page.screenshot(path=str(ARTIFACTS / "web-page-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(ARTIFACTS / "web-page-phone.png"), full_page=True)

    # The README's picture: step 1 (colour to grey) with the chain below it.
    page.set_viewport_size(DESKTOP)
    thumbs.nth(0).click()
    expect(page.locator("#result-prompt")).to_have_text("Step 1: “make it black and white”")
    page.wait_for_function("() => document.getElementById('after-image').complete")
    readme_picture = ARTIFACTS / "web-page-readme.png"
    page.screenshot(path=str(readme_picture), full_page=True)
    if os.environ.get("MIZUAL_UPDATE_SCREENSHOTS") == "1":
        pyvips.Image.new_from_file(str(readme_picture)).pngsave(
            str(DOCS_PICTURE), compression=9, palette=True, Q=90, effort=10
        )


@pytest.mark.parametrize("without", ["events-endpoint", "eventsource"])
def test_without_the_event_stream_the_page_polls(
    server: MizualServer,
    open_page: Callable[[MizualServer], Page],
    without: str,
) -> None:
    page = open_page(server)
    if without == "events-endpoint":
        # As a server without GET /edit/{uuid}/events answers.
        def missing(route: Route) -> None:
            route.fulfill(
                status=404,
                content_type="application/json",
                body='{"error": "not_found", "detail": "Not Found"}',
            )

        page.route("**/edit/*/events", missing)
    else:
        page.add_init_script("delete window.EventSource;")
        page.reload()
    choose(page, jpeg_bytes(), "gradient.jpg")
    page.get_by_label("What should change?").fill("make it a bit brighter")
    page.get_by_role("button", name="Edit image").click()
    wait_for_result(page)
    expect(page.locator("#progress-message")).to_have_text(READY)
    assert page.get_attribute("#progress-section", "data-transport") == "polling"


def test_a_failed_edit_and_a_refused_format_are_sentences(
    server: MizualServer,
    open_page: Callable[[MizualServer], Page],
) -> None:
    page = open_page(server)
    alert = page.get_by_role("alert")

    # A format the server refuses, dropped onto the page.
    drop(page, GIF, "animation.gif", "image/gif")
    expect(page.locator("#preview-caption")).to_contain_text("animation.gif")
    page.get_by_label("What should change?").fill("make it black and white")
    page.get_by_role("button", name="Edit image").click()
    # The server's reason, as a sentence: "Unsupported image format 'gif': GIF images are not
    # supported (...); convert the image to PNG or JPEG and try again."
    expect(alert).to_contain_text("GIF images are not supported")
    expect(alert).to_have_text(re.compile(r"^[A-Z][^\n]*\.$"))

    # A prompt the offline editor cannot do: the edit fails with its reason.
    choose(page, jpeg_bytes(), "gradient.jpg")
    expect(alert).to_be_hidden()
    page.get_by_label("What should change?").fill("add a hat")
    page.get_by_role("button", name="Edit image").click()
    expect(alert).to_contain_text("The edit failed: ")
    view = status_of(server, edit_id(page))
    assert view["is_error"]
    expect(alert).to_have_text(f"The edit failed: {view['message']}")
    expect(page.locator("#progress-section")).to_have_class("card failed")
    expect(page.locator("#progress-message")).to_have_text("The edit stopped.")
    expect_no_result(page)
    expect(page.get_by_role("button", name="Edit image")).to_be_enabled()
    # A lone failed edit is no chain to show.
    expect(page.locator("#chain-section")).to_be_hidden()
    # The failure is in the address, and a reload shows the same failure and nothing more.
    assert page.url == address(server, view["uuid"])
    page.reload()
    expect(alert).to_have_text(f"The edit failed: {view['message']}")
    expect(page.locator("#progress-message")).to_have_text("The edit stopped.")
    expect_no_result(page)
    expect(page.locator("#chain-section")).to_be_hidden()
    page.screenshot(path=str(ARTIFACTS / "web-page-failed.png"), full_page=True)


def test_the_address_keeps_a_chain_of_two_edits_through_reloads(
    make_server: Callable[..., MizualServer],
    open_page: Callable[[MizualServer], Page],
) -> None:
    server = make_server(REAL_STATUS_LIMIT)
    page = open_page(server)
    thumbs = page.locator("#chain-strip .thumb")
    prompt_line = page.locator("#result-prompt")
    source_text = page.locator("#chain-source-text")

    choose(page, jpeg_bytes(), "gradient.jpg")
    page.get_by_label("What should change?").fill("make it black and white")
    page.get_by_role("button", name="Edit image").click()
    # The address names the edit as soon as it is accepted.
    page.wait_for_url(re.compile(r"/\?edit=[0-9a-f-]{36}$"))
    wait_for_result(page)
    first = edit_id(page)
    assert page.url == address(server, first)
    first_view = status_of(server, first)

    page.reload()
    wait_for_result(page)
    assert edit_id(page) == first
    expect(prompt_line).to_have_text("Step 1: “make it black and white”")
    expect(page.locator("#progress-message")).to_have_text(READY)
    assert page.get_attribute("#after-image", "src") == first_view["edited_image_url"]
    assert page.get_attribute("#before-image", "src") == first_view["original_image_url"]
    expect(thumbs).to_have_count(1)
    expect(thumbs.nth(0)).to_have_attribute("aria-current", "step")
    # A single edit's image went with the old page: the form asks for an image again.
    expect(page.locator("#source-chain")).to_be_hidden()

    page.get_by_role("button", name="Edit this result").click()
    page.get_by_label("What should change?").fill("rotate 90 degrees clockwise")
    page.get_by_role("button", name="Edit image").click()
    page.wait_for_function(
        f"() => document.getElementById('progress-section').dataset.edit !== '{first}'"
    )
    wait_for_result(page)
    second = edit_id(page)
    assert page.url == address(server, second)
    expect(thumbs).to_have_count(2)

    # Loading the page spends one status check and one chain look-up, nothing more.
    asked: list[str] = []
    page.on(
        "request",
        lambda request: (
            asked.append(re.sub(r"^https?://[^/]+", "", request.url))
            if re.search(r"/(edit|chain)/", request.url)
            else None
        ),
    )
    page.reload()
    wait_for_result(page)
    expect(prompt_line).to_have_text("Step 2: “rotate 90 degrees clockwise”")
    expect(thumbs).to_have_count(2)
    expect(thumbs.nth(0)).to_have_attribute("aria-label", "Step 1: make it black and white")
    expect(thumbs.nth(1)).to_have_attribute("aria-current", "step")
    # The next edit goes on from the newest result, as it did before the reload.
    expect(source_text).to_contain_text("result of step 2")
    assert sorted(asked) == [f"/chain/{second}", f"/edit/{second}"]

    # Choosing step 1 puts it in the address; a reload comes back to it, in the whole chain.
    thumbs.nth(0).click()
    expect(prompt_line).to_have_text("Step 1: “make it black and white”")
    assert page.url == address(server, first)
    page.reload()
    expect(prompt_line).to_have_text("Step 1: “make it black and white”")
    expect(page.locator("#after-image")).to_have_attribute("src", first_view["edited_image_url"])
    expect(thumbs).to_have_count(2)
    expect(thumbs.nth(0)).to_have_attribute("aria-current", "step")
    expect(thumbs.nth(1)).not_to_have_attribute("aria-current", "step")
    expect(source_text).to_contain_text("result of step 2")
    thumbs.nth(1).click()
    expect(prompt_line).to_have_text("Step 2: “rotate 90 degrees clockwise”")
    assert page.url == address(server, second)


def as_older_servers_answer(route: Route) -> None:
    """The edit JSON (and event stream) as servers before the reference's meaning answered:
    `is_complete` only on success."""

    def older(value: Any) -> Any:
        if isinstance(value, dict):
            value = {key: older(item) for key, item in value.items()}
            if "is_complete" in value:
                value["is_complete"] = value.get("status") == "completed"
        elif isinstance(value, list):
            value = [older(item) for item in value]
        return value

    response = route.fetch()  # an event stream of a finished edit ends after `done`
    lines = response.text().split("\n")
    if response.headers.get("content-type", "").startswith("application/json"):
        lines = [json.dumps(older(json.loads(response.text())))]
    else:
        lines = [
            f"data: {json.dumps(older(json.loads(line[6:])))}"
            if line.startswith("data: ")
            else line
            for line in lines
        ]
    route.fulfill(response=response, body="\n".join(lines))


@pytest.mark.parametrize("meaning", ["finished", "succeeded"])
def test_a_failed_step_of_a_chain_shows_its_failure_and_survives_a_reload(
    make_server: Callable[..., MizualServer],
    open_page: Callable[[MizualServer], Page],
    meaning: str,
) -> None:
    """`is_complete` means "finished" (the reference's, and ours) or, on older servers,
    "succeeded": the page is right with either."""
    server = make_server(REAL_STATUS_LIMIT)
    with server.client() as http:
        first = edit_and_wait(http, "make it black and white", jpeg_bytes())
    assert first["status"] == "completed"
    page = open_page(server)
    if meaning == "succeeded":
        page.route(re.compile(r"/(edit|chain)/[^?]*$"), as_older_servers_answer)
    page.goto(address(server, first["uuid"]))
    wait_for_result(page)
    expect(page.locator("#result-prompt")).to_have_text("Step 1: “make it black and white”")

    page.get_by_role("button", name="Edit this result").click()
    page.get_by_label("What should change?").fill("add a hat")
    page.get_by_role("button", name="Edit image").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The edit failed: ")
    failed = edit_id(page)
    view = status_of(server, failed)
    assert view["is_error"]
    assert view["status"] == "failed"
    if meaning == "succeeded":
        assert page.evaluate(f"fetch('/edit/{failed}').then(r => r.json())")["is_complete"] is False
    thumbs = page.locator("#chain-strip .thumb")

    def shows_the_failure() -> None:
        expect(alert).to_have_text(f"The edit failed: {view['message']}")
        expect_no_result(page)
        expect(thumbs).to_have_count(2)
        expect(thumbs.nth(1)).to_have_attribute("aria-label", "Step 2: add a hat (failed)")
        expect(thumbs.nth(1)).to_have_attribute("aria-current", "step")
        # The next try starts from the last good result, step 1.
        expect(page.locator("#chain-source-text")).to_contain_text("result of step 1")

    shows_the_failure()
    assert page.url == address(server, failed)
    page.reload()
    shows_the_failure()

    # Step 1 is still there to see; the failure goes with it, and comes back with step 2.
    thumbs.nth(0).click()
    expect(page.locator("#result-prompt")).to_have_text("Step 1: “make it black and white”")
    expect(alert).to_be_hidden()
    expect(page.locator("#progress-message")).to_have_text(READY)
    thumbs.nth(1).click()
    expect(alert).to_have_text(f"The edit failed: {view['message']}")
    expect_no_result(page)


def test_an_unfinished_edit_in_the_address_is_followed_to_its_result(
    server: MizualServer,
    open_page: Callable[[MizualServer], Page],
) -> None:
    with server.client() as http:
        done = edit_and_wait(http, "make it black and white", jpeg_bytes())
    page = open_page(server)

    # The page's one status check answers as while the edit was still being made; only by
    # following it can the page learn that it finished.
    def still_working(route: Route) -> None:
        body = {
            **done,
            "status": "processing",
            "processing_stage": "editing_image",
            "message": "Still editing…",
            "progress_percent": 60,
            "is_complete": False,
            "edited_image_url": None,
        }
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route(f"**/edit/{done['uuid']}", still_working)
    page.goto(address(server, done["uuid"]))
    wait_for_result(page)
    expect(page.locator("#progress-message")).to_have_text(READY)
    assert page.get_attribute("#after-image", "src") == done["edited_image_url"]
    assert page.get_attribute("#progress-section", "data-transport") == "events"


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        ("not-an-edit", "which is not an edit id"),
        ("550e8400-e29b-41d4-a716-446655440000", "There is no edit 550e8400-"),
    ],
)
def test_a_bad_edit_in_the_address_is_a_sentence_on_the_usual_page(
    server: MizualServer,
    open_page: Callable[[MizualServer], Page],
    edit: str,
    words: str,
) -> None:
    page = open_page(server)
    page.goto(address(server, edit))
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(words)
    expect(alert).to_contain_text("Choose an image to start a new edit.")
    # The address forgets it, so a reload is the plain page.
    page.wait_for_url(f"{server.url}/")
    expect(page.locator("#progress-section")).to_be_hidden()
    expect(page.locator("#result-section")).to_be_hidden()
    expect(page.locator("#chain-section")).to_be_hidden()
    # And the page works as ever.
    choose(page, jpeg_bytes(), "gradient.jpg")
    page.get_by_label("What should change?").fill("make it black and white")
    page.get_by_role("button", name="Edit image").click()
    wait_for_result(page)
    expect(alert).to_have_count(0)
    assert page.url == address(server, edit_id(page))


def test_too_large_and_rate_limited_are_sentences_with_what_to_do(
    make_server: Callable[..., MizualServer],
    open_page: Callable[[MizualServer], Page],
    astronaut_jpeg: bytes,
) -> None:
    strict = make_server({"RATE_LIMIT_BURST_SECONDS": "30", "MAX_UPLOAD_BYTES": "60000"})
    page = open_page(strict)
    alert = page.get_by_role("alert")
    assert len(astronaut_jpeg) > 60_000

    choose(page, astronaut_jpeg)
    expect(alert).to_contain_text("and this server accepts at most 58.6 KiB.")
    expect(alert).to_contain_text("Compress or downscale it and try again.")
    page.get_by_label("What should change?").fill("make it black and white")
    page.get_by_role("button", name="Edit image").click()
    expect(alert).to_contain_text("this server accepts at most 58.6 KiB")

    small = jpeg_bytes()
    assert len(small) < 60_000
    with httpx.Client(base_url=strict.url, timeout=30) as http:
        assert submit(http, "make it black and white", small).status_code == 200
    choose(page, small, "gradient.jpg")
    page.get_by_role("button", name="Edit image").click()
    # "Too many requests: only one edit every 30 seconds is allowed. Try again in 29 seconds."
    expect(alert).to_contain_text("Too many requests")
    expect(alert).to_have_text(re.compile(r"Try again in \d+ seconds\.$"))
    submit_button = page.locator("#submit-button")
    expect(submit_button).to_be_disabled()
    expect(submit_button).to_have_text(re.compile(r"Wait \d+ seconds"))


# An edit that stays in ai_processing for half a minute: long enough to be cancelled.
SLOW_EDITS = {"EDIT_PROVIDER": "noop", "NOOP_EDIT_DELAY_SECONDS": "30"}


def stored_tokens(page: Page) -> dict[str, str]:
    entries = page.evaluate("() => JSON.parse(localStorage.getItem('mizual.editTokens') ?? '[]')")
    return dict(entries)


def test_cancel_stops_an_edit_this_browser_submitted(
    make_server: Callable[..., MizualServer],
    open_page: Callable[[MizualServer], Page],
) -> None:
    slow = make_server(SLOW_EDITS)
    page = open_page(slow)
    page.set_viewport_size(PHONE)
    choose(page, jpeg_bytes(), "gradient.jpg")
    page.get_by_label("What should change?").fill("make it black and white")
    page.get_by_role("button", name="Edit image").click()

    cancel = page.get_by_role("button", name="Cancel edit")
    expect(cancel).to_be_visible()
    edit = edit_id(page)
    assert status_of(slow, edit)["is_complete"] is False
    assert edit in stored_tokens(page)
    box = cancel.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= PHONE["width"]
    assert box["height"] >= 44  # a finger's size

    # The token is kept with the browser: after a reload the edit can still be cancelled.
    page.reload()
    expect(cancel).to_be_visible()
    assert edit_id(page) == edit
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-page-cancel-phone.png"), full_page=True)

    # From the keyboard.
    cancel.focus()
    page.keyboard.press("Enter")

    message = page.locator("#progress-message")
    expect(message).to_have_text(re.compile("cancelled"))
    expect(cancel).to_be_hidden()
    expect(page.locator("#progress-section")).to_have_class(re.compile(r"\bcancelled\b"))
    expect(page.get_by_role("alert")).to_have_count(0)
    expect_no_result(page)
    expect(page.locator("#submit-button")).to_be_enabled()
    view = status_of(slow, edit)
    assert view["status"] == "cancelled"
    assert view["edited_image_url"] is None
    expect(message).to_have_text(view["message"])
    assert edit not in stored_tokens(page)  # a finished edit's token can do nothing more

    # The address keeps the cancelled edit: a reload shows it as it ended.
    assert page.url == address(slow, edit)
    page.reload()
    expect(message).to_have_text(view["message"])
    expect(cancel).to_be_hidden()
    expect_no_result(page)


def test_cancel_refused_because_the_edit_finished_meanwhile_is_a_sentence(
    make_server: Callable[..., MizualServer],
    open_page: Callable[[MizualServer], Page],
) -> None:
    slow = make_server(SLOW_EDITS)
    page = open_page(slow)
    choose(page, jpeg_bytes(), "gradient.jpg")
    page.get_by_label("What should change?").fill("make it a bit brighter")
    page.get_by_role("button", name="Edit image").click()
    cancel = page.get_by_role("button", name="Cancel edit")
    expect(cancel).to_be_visible()
    edit = edit_id(page)
    token = stored_tokens(page)[edit]

    # Someone else (another tab, the CLI) cancels it just before this page's request arrives.
    def cancelled_elsewhere_first(route: Route) -> None:
        elsewhere = httpx.post(
            f"{slow.url}/edit/{edit}/cancel",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert elsewhere.status_code == 200, elsewhere.text
        route.continue_()

    page.route(f"**/edit/{edit}/cancel", cancelled_elsewhere_first)
    cancel.click()

    refusal = page.locator("#cancel-error")
    expect(refusal).to_have_attribute("role", "alert")
    expect(refusal).to_have_text(
        re.compile(r"^The edit could not be cancelled: Edit .* has already been cancelled")
    )
    # And the page still shows how the edit ended, from the event stream.
    expect(page.locator("#progress-message")).to_have_text(re.compile("cancelled"))
    expect(cancel).to_be_hidden()
    expect_no_result(page)
    assert status_of(slow, edit)["status"] == "cancelled"


def test_the_browser_keeps_only_the_newest_edit_tokens(
    server: MizualServer, open_page: Callable[[MizualServer], Page]
) -> None:
    page = open_page(server)
    kept = page.evaluate(
        """async () => {
          const tokens = await import("/static/tokens.js");
          for (let i = 0; i < 250; i += 1) tokens.rememberToken(`edit-${i}`, `token-${i}`);
          tokens.forgetToken("edit-249");
          return ["edit-49", "edit-50", "edit-248", "edit-249"].map(tokens.tokenFor);
        }"""
    )
    assert kept == [None, "token-50", "token-248", None]
    assert len(stored_tokens(page)) == 199
