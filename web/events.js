// Reading LangChain's astream_events (v2) payloads, as LangServe serialises them.

/** The text in a chat-model chunk; tool-call chunks carry none. */
export function textOfChunk(chunk) {
  const content = chunk?.content;
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((part) => (typeof part === "string" ? part : part?.type === "text" ? part.text : "")).join("");
  }
  return "";
}

/** The code of a Python tool call: its one string argument, whatever the tool names it. */
export function codeFromToolStart(input) {
  if (typeof input === "string") return input;
  if (!input || typeof input !== "object") return "";
  for (const key of ["python_code", "code", "input", "query"]) {
    if (typeof input[key] === "string") return input[key];
  }
  const first = Object.values(input).find((v) => typeof v === "string");
  return first || JSON.stringify(input);
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * A finished tool run as a step {status, result, stdout, stderr, images}. The tool's artifact is
 * the session pool's raw answer (with any image); its content is the JSON the model read.
 */
export function stepFromToolEnd(event) {
  if (event.event === "on_tool_error") {
    return { status: "Failure", stderr: String(event.data?.error?.message || event.data?.error || "tool error") };
  }
  const output = event.data?.output;
  const message = output && typeof output === "object" ? output : { content: output };
  const artifact = message.artifact && typeof message.artifact === "object" ? message.artifact : null;
  const parsed = typeof message.content === "string" ? parseJson(message.content) : message.content;
  const source = artifact || (parsed && typeof parsed === "object" ? parsed : { result: message.content });
  const images = Array.isArray(source.images) ? [...source.images] : [];
  const result = source.result;
  if (result && typeof result === "object" && result.type === "image" && result.base64_data) {
    images.push(result.base64_data);
  }
  const failed = message.status === "error" || /fail|error/i.test(String(source.status || ""));
  return {
    status: failed ? "Failure" : source.status || "Success",
    result,
    stdout: source.stdout || "",
    stderr: source.stderr || "",
    images,
  };
}
