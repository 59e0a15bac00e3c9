// One turn of the conversation: POST /chat/stream, its chunks drawn as they arrive.

import { ApiError, streamEvents } from "./api.js";
import { addChunk } from "./chunks.js";

const BROKEN_STREAM =
  "The service broke off the answer without saying why: the model or the code session " +
  "probably failed. Try again; if it keeps failing, the service log has the cause.";

/** Stream one answer into `view`, adding up the chunks in `answer`; failures are thrown. */
export async function streamTurn({ conversationId, text, answer, view, signal }) {
  const payload = { input: { message: text }, config: { configurable: { conversation_id: conversationId } } };
  try {
    for await (const { event, data } of streamEvents("/chat/stream", payload, signal)) {
      if (event === "end") break;
      if (event === "error") throw streamError(answer.error || data);
      if (event === "data" && data && typeof data === "object") showChunk(data, answer, view);
    }
  } catch (err) {
    if (err instanceof ApiError || err.name === "AbortError") throw err;
    // A proxy or a network failure can cut the stream: its error chunk may be all we got.
    throw answer.error ? streamError(answer.error) : new ApiError(BROKEN_STREAM, 0);
  }
  if (answer.error) throw streamError(answer.error);
}

function showChunk(data, answer, view) {
  // Follow the answer down unless the reader has scrolled up to read something else.
  const log = view.node.parentElement;
  const following = log && log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  const changed = addChunk(answer, data);
  if (changed.has("steps")) view.setSteps(answer.steps);
  if (changed.has("route")) view.setRoute(answer.route, answer.steps.length > 0);
  if (changed.has("output")) view.setText(answer.output);
  const running = answer.steps.some((step) => step.status === "running");
  view.setNote(running ? "Running Python…" : answer.output ? "" : "Thinking…");
  if (following) log.scrollTop = log.scrollHeight;
}

// The service sends {error: {status_code, message}} in the stream before LangServe's own,
// generic error event; prefer the service's words.
function streamError(error) {
  const status = error?.status_code ?? 500;
  const message = error?.message ?? "unknown error";
  const hint = status >= 500 ? " The model or the code session may be unavailable." : "";
  return new ApiError(`The answer failed (${status}): ${message}.${hint}`, status);
}
