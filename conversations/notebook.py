"""A conversation as a Jupyter notebook (nbformat 4): a markdown cell for each message and
answer, a code cell for each python step with its outputs, valid under `nbformat.validate`."""

import io
import re
import zipfile

import nbformat
from nbformat import v4

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
MEDIA_TYPE = "application/x-ipynb+json"
FILES_FOLDER = "mnt/data/"  # in the zip, where the code found them
# The last line of a Python traceback: "ValueError: bad value" (or a bare "KeyboardInterrupt").
EXCEPTION_LINE = re.compile(r"^(?P<ename>[A-Za-z_][\w.]*)(?::\s?(?P<evalue>.*))?$")


def build_notebook(title: str, page: list[dict]) -> nbformat.NotebookNode:
    """The notebook of a conversation's messages as `transcript.page_messages(...,
    raw_steps=True)` gives them."""
    notebook = v4.new_notebook(metadata={"kernelspec": KERNELSPEC, "title": title})
    notebook.metadata["language_info"] = {"name": "python"}
    count = 0
    for message in page:
        if message["role"] == "user":
            notebook.cells.append(v4.new_markdown_cell(f"**User:** {message['content']}"))
            continue
        for step in message["steps"]:
            count += 1
            notebook.cells.append(_code_cell(step, count))
        if message["content"]:
            notebook.cells.append(v4.new_markdown_cell(f"**Assistant:** {message['content']}"))
    nbformat.validate(notebook)
    return notebook


def notebook_zip(name: str, notebook: nbformat.NotebookNode, files: dict[str, bytes]) -> bytes:
    """A zip of the notebook and the conversation's files, under mnt/data/ as the code saw them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, nbformat.writes(notebook))
        for file_name, data in files.items():
            archive.writestr(FILES_FOLDER + file_name, data)
    return buffer.getvalue()


def _code_cell(step: dict, count: int) -> nbformat.NotebookNode:
    outputs = _outputs(step, count)
    return v4.new_code_cell(step.get("code", ""), execution_count=count, outputs=outputs)


def _outputs(step: dict, count: int) -> list:
    outputs = []
    if step.get("stdout"):
        outputs.append(v4.new_output("stream", name="stdout", text=step["stdout"]))
    rich = step.get("outputs")
    if rich is None:
        rich = _outputs_of_plain_step(step, count)
    for output in rich:
        converted = _jupyter_output(output, count)
        if converted is not None:
            outputs.append(converted)
    failed = step.get("status") in ("Failure", "Failed")
    has_error = any(o.output_type == "error" for o in outputs)
    if step.get("stderr") and failed and not has_error:
        outputs.append(_error_of(step["stderr"]))
    elif step.get("stderr") and not has_error:
        outputs.append(v4.new_output("stream", name="stderr", text=step["stderr"]))
    if step.get("status") == "stopped":
        outputs.append(v4.new_output("stream", name="stderr", text="[stopped before it finished]"))
    return outputs


def _outputs_of_plain_step(step: dict, count: int) -> list[dict]:
    """Jupyter outputs for a step kept without them: its images, then its result."""
    outputs: list[dict] = [
        {"output_type": "display_data", "data": {"image/png": image, "text/plain": "<Figure>"}}
        for image in step.get("images") or []
    ]
    outputs += [
        {"output_type": "display_data", "data": {"text/html": html}}
        for html in step.get("html") or []
    ]
    result = step.get("result")
    if result not in (None, "") and not isinstance(result, dict):
        text = result if isinstance(result, str) else repr(result)
        outputs.append({"output_type": "execute_result", "data": {"text/plain": text}})
    return outputs


def _jupyter_output(output: dict, count: int) -> nbformat.NotebookNode | None:
    kind = output.get("output_type")
    if kind == "error":
        return v4.new_output(
            "error",
            ename=str(output.get("ename", "")),
            evalue=str(output.get("evalue", "")),
            traceback=[str(line) for line in output.get("traceback") or []],
        )
    if kind not in ("display_data", "execute_result"):
        return None
    data = {mime: _text(value) for mime, value in (output.get("data") or {}).items()}
    metadata = output.get("metadata") or {}
    if kind == "execute_result":
        return v4.new_output(kind, data=data, metadata=metadata, execution_count=count)
    return v4.new_output(kind, data=data, metadata=metadata)


def _text(value: object) -> object:
    # nbformat keeps JSON MIME types (application/json) as they are and text as a string.
    return value if isinstance(value, str | dict | list) else str(value)


def _error_of(stderr: str) -> nbformat.NotebookNode:
    lines = stderr.rstrip("\n").splitlines() or [""]
    match = EXCEPTION_LINE.match(lines[-1])
    ename, evalue = (match["ename"], match["evalue"] or "") if match else ("Error", lines[-1])
    return v4.new_output("error", ename=ename, evalue=evalue, traceback=lines)
