"""A completion's content, built from a turn's chunks as they arrive: the answer's text, each
python step (once it has run) as a collapsible block that Open WebUI, LibreChat and GitHub
render, and the images the steps showed as Markdown links at the end (never inline data)."""

import json
import math
import re

from chains import ChatChunk

# Tokens are counted as LangChain's count_tokens_approximately does: 4 characters a token.
CHARS_PER_TOKEN = 4
STATUS_WORDS = {"Success": "ran", "Failure": "failed", "stopped": "stopped"}


class Content:
    """Turns each chunk into the text to send now; `images` are those the steps showed."""

    def __init__(self) -> None:
        self.text = ""
        self.images: list[str] = []
        self._steps: dict[int, dict] = {}

    def add(self, chunk: ChatChunk) -> str:
        parts = []
        for update in chunk.get("steps") or []:
            step = self._steps[update["index"]] = {**self._steps.get(update["index"], {}), **update}
            if step.get("status") != "running":
                parts.append(self._apart(step_block(step)))
                self.images.extend(step.get("images") or [])
        if chunk.get("output"):
            parts.append(chunk["output"])
        return self._sent("".join(parts))

    def links(self, urls: list[str]) -> str:
        """The images as Markdown image links, after everything else."""
        lines = [f"![Figure {number}]({url})" for number, url in enumerate(urls, start=1)]
        return self._sent(self._apart("\n\n".join(lines))) if lines else ""

    def _apart(self, block: str) -> str:
        """`block` on lines of its own, after a blank line."""
        if not self.text or self.text.endswith("\n\n"):
            lead = ""
        else:
            lead = "\n" if self.text.endswith("\n") else "\n\n"
        return f"{lead}{block}\n\n"

    def _sent(self, text: str) -> str:
        self.text += text
        return text


def step_block(step: dict) -> str:
    """A python step as `<details>`: its code and what it returned, printed and raised."""
    number = step["index"] + 1
    status = STATUS_WORDS.get(step.get("status", ""), step.get("status", ""))
    parts = [
        "<details>",
        f"<summary>Python step {number} ({status})</summary>",
        "",
        _fenced(step.get("code") or "", "python"),
    ]
    for title, text in (
        ("Result", result_text(step.get("result"))),
        ("Output", step.get("stdout") or ""),
        ("Errors", step.get("stderr") or ""),
    ):
        if text.strip():
            parts += ["", f"{title}:", "", _fenced(text.rstrip("\n"))]
    return "\n".join([*parts, "", "</details>"])


def result_text(result: object) -> str:
    if result is None or (isinstance(result, dict) and result.get("type") == "image"):
        return ""  # an image result is linked after the answer
    return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)


def _fenced(text: str, language: str = "") -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


class Cutoff:
    """Ends the content at the first of the client's stop sequences (which is not sent), or
    once it holds `max_tokens` tokens; `reason` then says which ("stop" or "length")."""

    def __init__(self, stops: list[str], max_tokens: int | None) -> None:
        self._stops = stops
        self._room = max_tokens * CHARS_PER_TOKEN if max_tokens else None
        # The end of the text, held back while it could be the start of a stop sequence.
        self._held = ""
        self.reason: str | None = None

    def feed(self, text: str) -> str:
        """The part of `text` that may be sent now."""
        if self.reason:
            return ""
        held = self._held + text
        found = [held.find(stop) for stop in self._stops if stop in held]
        if found:
            self.reason, self._held = "stop", ""
            return self._within_room(held[: min(found)])
        keep = min(len(held), max((len(stop) - 1 for stop in self._stops), default=0))
        self._held = held[len(held) - keep :]
        return self._within_room(held[: len(held) - keep])

    def flush(self) -> str:
        """What was held back, at the end of the answer."""
        held, self._held = self._held, ""
        return "" if self.reason else self._within_room(held)

    def _within_room(self, text: str) -> str:
        if self._room is None:
            return text
        if len(text) > self._room:
            text, self.reason = text[: self._room], "length"
        self._room -= len(text)
        return text


def approximate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)
