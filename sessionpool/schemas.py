"""Wire models of the dynamic-sessions API: request bodies in, each api-version's shapes out.

Results, from the kernel's Jupyter outputs (session.Outcome):
- the first image shown (display_data or execute_result with image/png) is the result, as
  `{"type": "image", "format": "png", "base64_data": ...}`, in every api-version (as Azure);
- otherwise, by default, the execute_result's value as JSON holds it when it is a bool, int,
  float or str (NaN and infinities: null), its text/plain (as IPython pretty-prints it) for
  anything else, and "" when the cell has no value (a statement, None, a trailing `;`);
- with `returnJupyterFormatExecutionResult` (2025-10-02-preview): the execute_result's
  text/plain for every value ('nan' comes back as "'nan'"), and null when there is none.
- Every output, in order, is kept for `GET session/outputs` (a local extension, handlers.py).

Streams: `outputStreamsMaxLength` (default SESSION_POOL_OUTPUT_MAX_LENGTH) is the most characters
each of stdout and stderr holds as returned. When a stream was longer, its returned text ends
with a line `[... N more characters of stdout were cut]` counted inside that length (before the
pool's own closing notes), and the result carries `streamsCut: {"stdout": N, "stderr": M}` (a
local, additive field that is there only when something was cut; a limit too small to hold the
line gets the field alone).
"""

import base64
import binascii
import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sessionpool.files import FileInfo, content_type
from sessionpool.folders import Entry
from sessionpool.session import Outcome

GENERATION_1 = ("2024-02-02-preview", "2024-08-02-preview")
GENERATION_2 = ("2024-10-02-preview", "2025-02-02-preview", "2025-10-02-preview")
SESSION_API = ("2025-02-02-preview", "2025-10-02-preview")
LATEST = ("2025-10-02-preview",)
API_VERSIONS = GENERATION_1 + GENERATION_2
POOL_NOTE = re.compile(r"\[session pool\] ")


class ExecutionRequest(BaseModel):
    """Bodies of `code/execute` (in `properties`) and `executions` (flat): only `code` is needed."""

    model_config = ConfigDict(extra="ignore")

    code: str
    code_input_type: Literal["inline", "inlinebase64", "inlinetext"] = Field(
        "inline", alias="codeInputType"
    )
    execution_type: Literal["synchronous", "asynchronous"] = Field(
        "synchronous", alias="executionType"
    )
    timeout_in_seconds: float | None = Field(None, alias="timeoutInSeconds", gt=0)
    output_streams_max_length: int | None = Field(None, alias="outputStreamsMaxLength", ge=0)
    use_empty_kernel: bool = Field(False, alias="useEmptyKernel")
    jupyter_format: bool = Field(False, alias="returnJupyterFormatExecutionResult")

    @field_validator("code_input_type", "execution_type", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    def source(self) -> str:
        """The code to run: `InlineBase64` code is base64 of UTF-8 text."""
        if self.code_input_type != "inlinebase64":
            return self.code
        try:
            return base64.b64decode(self.code, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as error:
            raise ValueError(f"code is not base64 of UTF-8 text ({error})") from error


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def first_image(outputs: list[dict]) -> dict | None:
    for output in outputs:
        png = output.get("data", {}).get("image/png")
        if isinstance(png, str):
            return {"type": "image", "format": "png", "base64_data": png}
    return None


def _execute_result(outputs: list[dict]) -> dict | None:
    return next((o for o in outputs if o["output_type"] == "execute_result"), None)


def result_value(outcome: Outcome, jupyter_format: bool = False) -> object:
    image = first_image(outcome.outputs)
    if image is not None:
        return image
    result = _execute_result(outcome.outputs)
    text = result["data"].get("text/plain") if result else None
    if jupyter_format:
        return text
    if result is None:
        return ""
    if outcome.value is not None:
        return outcome.value[0]
    return text if isinstance(text, str) else ""


def fit(text: str, cut: int, limit: int, name: str) -> tuple[str, int]:
    """A stream as returned, at most `limit` characters, and how many characters were cut.

    The pool's own closing notes (timeouts, restarts) are kept first; the code's output gets
    the room left, and ends with the cut notice when that room holds it."""
    match = POOL_NOTE.search(text)
    body, notes = (text[: match.start()], text[match.start() :]) if match else (text, "")
    kept_notes = notes[:limit]
    room = limit - len(kept_notes)
    if not cut and len(body) <= room:
        shown, tail = body, ""
    else:
        total = len(body) + cut
        width = len(f"[... {total} more characters of {name} were cut]\n") + 1
        shown, tail = body[: max(room, 0)], ""
        if room >= width:
            shown = body[: room - width]
            tail = f"[... {total - len(shown)} more characters of {name} were cut]\n"
            tail = ("\n" if shown and not shown.endswith("\n") else "") + tail
    head = shown + tail
    if kept_notes and head and not head.endswith("\n") and len(head) + len(kept_notes) < limit:
        head += "\n"
    return head + kept_notes, len(body) + cut - len(shown) + len(notes) - len(kept_notes)


def streams(outcome: Outcome, limit: int) -> tuple[dict, dict]:
    """stdout and stderr as returned, and the `streamsCut` field when something was cut."""
    stdout, stdout_cut = fit(outcome.stdout, outcome.stdout_cut, limit, "stdout")
    stderr, stderr_cut = fit(outcome.stderr, outcome.stderr_cut, limit, "stderr")
    extra = {"streamsCut": {"stdout": stdout_cut, "stderr": stderr_cut}}
    return {"stdout": stdout, "stderr": stderr}, extra if stdout_cut or stderr_cut else {}


def gen1_execution(outcome: Outcome, limit: int) -> dict:
    texts, extra = streams(outcome, limit)
    return {
        "$id": "1",
        "properties": {
            "$id": "2",
            "status": "Success" if outcome.succeeded else "Failure",
            **texts,
            "result": result_value(outcome),
            "executionTimeInMilliseconds": outcome.duration_ms,
            **extra,
        },
    }


def gen2_execution(
    execution_id: str,
    identifier: str,
    execution_type: str,
    outcome: Outcome | None,
    limit: int,
    jupyter_format: bool = False,
) -> dict:
    body: dict[str, object] = {
        "id": execution_id,
        "identifier": identifier,
        "executionType": execution_type.capitalize(),
        "status": "Running",
        "result": None,
    }
    if outcome is not None:
        texts, extra = streams(outcome, limit)
        value = result_value(outcome, jupyter_format) if outcome.succeeded else None
        body["status"] = "Succeeded" if outcome.succeeded else "Failed"
        body["result"] = {
            **texts,
            "executionResult": value,
            "executionTimeInMilliseconds": outcome.duration_ms,
            **extra,
        }
    return body


def gen1_files(entries: list[FileInfo | Entry]) -> dict:
    value = []
    for index, entry in enumerate(entries):
        properties = {
            "$id": str(3 + 2 * index),
            "filename": entry.name,
            "size": entry.size,
            "lastModifiedTime": _iso(entry.modified),
        }
        value.append({"$id": str(2 + 2 * index), "properties": properties})
    return {"$id": "1", "value": value}


def gen2_file(entry: FileInfo | Entry, with_directory: bool = False) -> dict:
    """A file entry; from 2025-10-02-preview on, folders too, with their `directory`."""
    is_folder = isinstance(entry, Entry) and entry.is_folder
    body = {
        "name": entry.name,
        "type": "directory" if is_folder else "File",
        "contentType": "application/octet-stream" if is_folder else content_type(entry.name),
        "sizeInBytes": entry.size,
        "lastModifiedAt": _iso(entry.modified),
    }
    if with_directory and isinstance(entry, Entry):
        body["directory"] = entry.directory
    return body


def gen2_files(entries: list[Entry], with_directory: bool = False) -> dict:
    return {"value": [gen2_file(e, with_directory) for e in entries], "nextLink": None}


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}
