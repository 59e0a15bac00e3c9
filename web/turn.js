// One turn of the conversation: POST /chat/stream, its chunks drawn as they arrive.

import { ApiError, messageFor, streamEvents } from "./api.js";
import { addChunk } from "./chunks.js";

// What a stream that breaks off means: the service stopped (LangServe's generic error event is
// all it sends then) or the connection was lost. Either way the service keeps the turn with
// what was done so far (its save runs however a turn ends).
export const BROKEN_STREAM =
  "The service stopped (or the connection was lost) before this answer was finished; the turn " +
  "is kept with what was done so far. Retry once the service is back.";

/** Stream one answer into `view`, adding up the chunks in `answer`; failures are thrown.
 *  `replace`: the number of an earlier turn this message replaces (retry, regenerate, edit). */
export async function streamTurn({ conversationId, text, replace, answer, view, signal }) {
  const input = replace === undefined ? { message: text } : { message: text, replace_turn: replace };
  const payload = { input, config: { configurable: { conversation_id: conversationId } } };
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
  if (changed.has("output")) view.setText(answer.output);
  const running = answer.steps.some((step) => step.status === "running");
  view.setNote(running ? "Running Python…" : answer.output ? "" : "Thinking…");
  if (following) log.scrollTop = log.scrollHeight;
}

// The service sends {error: {status_code, message}} in the stream before LangServe's own,
// generic error event ({status_code: 500, message: "Internal Server Error"}); prefer the
// service's words.
function streamError(error) {
  const status = error?.status_code ?? 500;
  const message = error?.message;
  if (!message || message === "Internal Server Error") return new ApiError(BROKEN_STREAM, status);
  return new ApiError(messageFor(status, message), status);
}
