"""What `mizual edit`, `status`, `cancel` and `chain` print: a progress bar, and readable
summaries."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as RichProgress


class Progress:
    """The edit's stage messages: a live bar on a terminal, one line per change otherwise."""

    def __init__(self, edit_id: str, *, console: Console | None = None) -> None:
        self.edit_id = edit_id
        self.console = console or Console(stderr=True)
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None
        self._last_message: str | None = None

    def __enter__(self) -> Progress:
        if self.console.is_terminal:
            self._bar = RichProgress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=self.console,
            )
            self._bar.start()
            self._task = self._bar.add_task(f"Edit {self.edit_id} submitted", total=100)
        else:
            self._line(f"Edit {self.edit_id} submitted")
        return self

    def show(self, view: dict[str, Any]) -> None:
        message = str(view.get("message") or view.get("processing_stage") or "")
        percent = int(view.get("progress_percent") or 0)
        if view.get("is_error"):
            message = "Failed"  # why follows, on a line of its own
        if self._bar is not None and self._task is not None:
            text = "[red]Failed[/]" if view.get("is_error") else escape(message)
            self._bar.update(self._task, completed=percent, description=text)
        elif message != self._last_message:
            self._line(f"{percent:>3}%  {message}")
        self._last_message = message

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @staticmethod
    def _line(text: str) -> None:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def _when(value: Any) -> str:
    if not value:
        return "-"
    try:
        stamp = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return stamp.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def _duration(start: Any, end: Any) -> str | None:
    try:
        seconds = (
            datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))
        ).total_seconds()
    except (TypeError, ValueError):
        return None
    return f"{seconds:.1f} s"


def _headline(view: dict[str, Any]) -> str:
    state = str(view.get("status"))
    percent = view.get("progress_percent")
    if view.get("is_error"):
        return f"failed at {view.get('error_stage') or 'an unknown stage'}"
    if state == "cancelled":  # complete too (processing is over), but without a result
        return "cancelled"
    if view.get("is_complete"):
        return f"completed ({percent}%)"
    stage = view.get("processing_stage")
    return f"{state}, {stage} ({percent}%)" if stage and stage != state else f"{state} ({percent}%)"


def describe_status(view: dict[str, Any]) -> str:
    lines = [f"Edit {view.get('uuid')}: {_headline(view)}", f"  {view.get('message')}"]
    rows: list[tuple[str, Any]] = [("prompt", view.get("prompt"))]
    enhanced = view.get("enhanced_prompt")
    if enhanced and enhanced != view.get("prompt"):
        rows.append(("enhanced", enhanced))
    if view.get("prompt_note"):
        rows.append(("note", view["prompt_note"]))
    if view.get("edited_image_url"):
        rows.append(("result", view["edited_image_url"]))
    if view.get("original_image_url"):
        rows.append(("original", view["original_image_url"]))
    rows.append(("created", _when(view.get("created_at"))))
    if view.get("finished_at"):
        took = _duration(view.get("created_at"), view["finished_at"])
        finished = _when(view["finished_at"])
        rows.append(("finished", f"{finished} ({took} after submission)" if took else finished))
    timings = view.get("stage_timings_ms") or {}
    if timings:
        rows.append(("stages", " · ".join(f"{k} {v:.0f} ms" for k, v in timings.items())))
    position = view.get("chain_position")
    if position:
        parent = view.get("parent_edit_uuid")
        rows.append(("chain", f"position {position}" + (f", after {parent}" if parent else "")))
    lines += [f"  {name + ':':<10}{value}" for name, value in rows]
    return "\n".join(lines)


def describe_chain(body: dict[str, Any]) -> str:
    history = body.get("chain_history") or []
    length = body.get("chain_length", len(history))
    through = body.get("edit_uuid")
    lines = [f"Chain of {length} edit{'s' if length != 1 else ''} through {through}:"]
    for entry in history:
        view = entry.get("edit") or {}
        marker = "   <- this edit" if view.get("uuid") == through else ""
        lines.append(
            f"  {entry.get('chain_position')}. {view.get('uuid')}  {_headline(view)}  "
            f"{view.get('prompt')!r}{marker}"
        )
        if view.get("edited_image_url"):
            lines.append(f"     result: {view['edited_image_url']}")
        elif view.get("is_error"):
            lines.append(f"     {view.get('message')}")
    return "\n".join(lines)
