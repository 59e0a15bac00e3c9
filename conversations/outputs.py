"""A step's rich outputs: kept as Jupyter outputs, shown to clients and to the model.

A python step's artifact (the tool's `ToolMessage.artifact`) holds `status`, `result`,
`stdout`, `stderr` and, when the pool gave them, `outputs`: the cell's Jupyter outputs in
display order (`display_data` and `execute_result` with a MIME bundle, `error`). Clients get
the step with `outputs` turned into three lists (`client_step`):

- `images`: every PNG, in display order (base64);
- `html`: every `text/html` output that has no image (a DataFrame's table, for example);
- `text`: the `text/plain` form of each of those images, then of each table.

The model reads a short text form of each (`model_outputs`), never the image data. A step
kept before outputs existed has `images` of its own and no `outputs`; it is shown as it is.
"""

from collections.abc import Iterator

PNG, HTML, PLAIN = "image/png", "text/html", "text/plain"
RICH = ("display_data", "execute_result")
MODEL_TEXT_CHARS = 400


def client_step(artifact: dict) -> dict:
    """The step as clients see it: `outputs` replaced by `images`, `html` and `text`."""
    if "outputs" not in artifact:
        return artifact
    step = {key: value for key, value in artifact.items() if key != "outputs"}
    rich = list(_rich(artifact["outputs"]))
    images = [(value, plain) for mime, value, plain in rich if mime == PNG]
    tables = [(value, plain) for mime, value, plain in rich if mime == HTML]
    step["images"] = [value for value, _plain in images]
    step["html"] = [value for value, _plain in tables]
    step["text"] = [plain for _value, plain in images + tables]
    return step


def model_outputs(artifact: dict) -> list[str]:
    """A line per image or table for the model: what it is and its text form, shortened."""
    if "outputs" not in artifact:
        count = len(artifact.get("images") or [])
        return [f"image {n} shown to the user" for n in range(1, count + 1)]
    lines, counts = [], {PNG: 0, HTML: 0}
    for mime, _value, plain in _rich(artifact["outputs"]):
        counts[mime] += 1
        kind = "image" if mime == PNG else "table (HTML)"
        shown = plain if len(plain) <= MODEL_TEXT_CHARS else plain[:MODEL_TEXT_CHARS] + " [...]"
        line = f"{kind} {counts[mime]} shown to the user"
        lines.append(f"{line}; as text: {shown}" if shown else line)
    return lines


def outputs_of_result(result: object) -> list[dict]:
    """The gen-1 shape's one image (`result` of type image) as Jupyter outputs."""
    if isinstance(result, dict) and result.get("type") == "image" and result.get("base64_data"):
        return [{"output_type": "display_data", "data": {PNG: result["base64_data"]}}]
    return []


def _rich(outputs: list[dict]) -> Iterator[tuple[str, str, str]]:
    """(PNG or HTML, its data, its text/plain) for each rich output, in display order."""
    for output in outputs:
        if output.get("output_type") not in RICH:
            continue
        data = output.get("data") or {}
        plain = data.get(PLAIN)
        plain = plain if isinstance(plain, str) else ""
        for mime in (PNG, HTML):
            if isinstance(data.get(mime), str):
                yield mime, data[mime], plain
                break
