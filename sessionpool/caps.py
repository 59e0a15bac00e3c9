"""What one call may return besides its streams: the result and the outputs, within caps.

Each text of the result (the value, and every text in an output, such as text/plain) holds at
most TEXT_MAX characters, cut visibly; a call's outputs together hold at most OUTPUTS_TEXT_MAX
characters of text and IMAGES_MAX characters of base64 images, and outputs past either are left
out, which stderr says. The kernel applies this before it replies, so that replies stay small;
the pool applies it again to what it receives, as it trusts no reply.
"""

import json

TEXT_MAX = 1 << 20
OUTPUTS_TEXT_MAX = 2 << 20
IMAGES_MAX = 8 << 20
NOTE = "[session pool]"


def cut_text(text: str, limit: int = TEXT_MAX) -> str:
    """`text` whole, or its start and a line saying how much was cut: `limit` in all."""
    if len(text) <= limit:
        return text
    marker = f"\n[... {len(text)} characters in all; cut at {limit}, the most a result holds]"
    return text[: limit - len(marker)] + marker


def cap(outputs: list[dict], value: list | None) -> tuple[list[dict], list | None, str]:
    """The outputs and value as a call returns them, and a note for stderr ("" if none)."""
    kept, text, images, left_out = [], 0, 0, 0
    for output in outputs:
        output, text_size, image_size = _cut_output(output)
        if text + text_size > OUTPUTS_TEXT_MAX or images + image_size > IMAGES_MAX:
            left_out += 1
            continue
        kept.append(output)
        text, images = text + text_size, images + image_size
    if value is not None and isinstance(value[0], str):
        value = [cut_text(value[0])]
    note = ""
    if left_out:
        note = (
            f"{NOTE} {left_out} of this call's outputs were left out: a call returns at most "
            f"{OUTPUTS_TEXT_MAX} characters of text and {IMAGES_MAX >> 20} MiB of images.\n"
        )
    return kept, value, note


def _cut_output(output: dict) -> tuple[dict, int, int]:
    """One output with each of its texts cut, and its sizes in text and in images."""
    if output.get("output_type") == "error":
        cut = {**output, "evalue": cut_text(output.get("evalue", ""))}
        cut["traceback"] = _cut_lines(output.get("traceback", []))
        return cut, len(cut["evalue"]) + sum(map(len, cut["traceback"])), 0
    data, text, images = {}, 0, 0
    for mime, content in output.get("data", {}).items():
        if mime.startswith("image/") and isinstance(content, str):
            data[mime] = content
            images += len(content)
        elif isinstance(content, str):
            data[mime] = cut_text(content)
            text += len(data[mime])
        else:  # JSON data (application/json and the like): as text once too large
            serialized = json.dumps(content)
            data[mime] = content if len(serialized) <= TEXT_MAX else cut_text(serialized)
            text += min(len(serialized), TEXT_MAX)
    return {**output, "data": data}, text, images


def _cut_lines(lines: list[str]) -> list[str]:
    kept, room = [], TEXT_MAX
    for index, line in enumerate(lines):
        line = cut_text(line)
        if len(line) > room:
            kept.append(f"[... {len(lines) - index} more lines were cut]")
            break
        kept.append(line)
        room -= len(line)
    return kept
