// Calls to the service: the stored bearer key, errors in plain words, LangServe's event stream.

const KEY_STORAGE = "code-interpreter.api-key";

// The page lives at <prefix>/ui/; the API routes sit next to it, behind any proxy prefix.
const BASE = location.pathname.replace(/\/ui(\/.*)?$/, "");

export class ApiError extends Error {
  /** `status` 0: the service did not answer. `rejected`: the request was refused before any
   *  work started (bad input, too many requests), so it can be corrected and sent again. */
  constructor(message, status, { rejected = false } = {}) {
    super(message);
    this.status = status;
    this.rejected = rejected;
  }
}

export function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

export function setApiKey(key) {
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
}

export function url(path) {
  return BASE + path;
}

function headers(extra = {}) {
  const key = apiKey();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

export const UNREACHABLE = "The service did not answer: it may have stopped, or the network is down. Try again once it is back.";

/** fetch() with the key; a network failure or a 4xx/5xx answer becomes an ApiError. */
export async function request(path, { method = "GET", json, body, signal } = {}) {
  const init = { method, signal, headers: headers(json === undefined ? {} : { "Content-Type": "application/json" }) };
  if (json !== undefined) init.body = JSON.stringify(json);
  else if (body !== undefined) init.body = body;
  let response;
  try {
    response = await fetch(url(path), init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(UNREACHABLE, 0);
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

/** A download link's click: a plain link cannot carry the bearer key, so with a key set the
 *  file is fetched and saved from memory instead. */
export async function saveWithKey(event, path, name) {
  if (!apiKey()) return;
  event.preventDefault();
  const blob = await (await request(path)).blob();
  const href = URL.createObjectURL(blob);
  const link = Object.assign(document.createElement("a"), { href, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}

export async function getJSON(path) {
  return (await request(path)).json();
}

async function errorFrom(response) {
  let detail;
  try {
    const body = await response.json();
    detail = body.detail ?? body.message ?? body;
  } catch {
    detail = response.statusText || "";
  }
  const status = response.status;
  return new ApiError(messageFor(status, detail), status, { rejected: status === 422 || status === 413 || status === 429 });
}

/** FastAPI's validation errors as a person would say them. */
export function describe(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map(plainValidationError).join("; ");
  return JSON.stringify(detail);
}

function plainValidationError(error) {
  const limit = error.ctx?.max_length ?? error.ctx?.limit_value;
  if (error.type === "string_too_long" && limit) {
    return `the message is longer than the limit of ${Number(limit).toLocaleString("en")} characters`;
  }
  if (error.type === "string_too_short" || error.type === "missing") return "the message is empty";
  return error.msg || JSON.stringify(error);
}

export function messageFor(status, rawDetail) {
  const detail = describe(rawDetail);
  if (status === 401 || status === 403) {
    return `You are not signed in, or your key was refused (${status}): ${detail}. Reload the page to sign in again.`;
  }
  if (status === 404) return `Not found: ${detail}.`;
  if (status === 413) return `Too large (413): ${detail}.`;
  if (status === 422) return `The service did not accept this: ${detail}.`;
  if (status === 429) return `Too many requests right now (429): ${detail}. Wait a moment, then try again.`;
  if (status === 500 || !detail) {
    return `The service failed (${status}) and logged the cause. Try again; if it keeps failing, the service log says why.`;
  }
  // 502-504: the service's own words name the backend (the model, the code session pool) and
  // its failure; the service's own status code would only add a second, confusing number.
  return `${sentence(detail)}. Try again in a moment.`;
}

function sentence(text) {
  return text.charAt(0).toUpperCase() + text.slice(1).replace(/\.$/, "");
}

/** POST to a LangServe streaming endpoint; yields {event, data} for each server-sent event. */
export async function* streamEvents(path, payload, signal) {
  const response = await request(path, { method: "POST", json: payload, signal });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let match;
    while ((match = /\r?\n\r?\n/.exec(buffer))) {
      const block = buffer.slice(0, match.index);
      buffer = buffer.slice(match.index + match[0].length);
      const event = parseEvent(block);
      if (event) yield event;
    }
  }
}

export function parseEvent(block) {
  let event = "message";
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (!line || line.startsWith(":")) continue; // keep-alive comments
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length && event === "message") return null;
  const text = data.join("\n");
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { event, data: parsed };
}
