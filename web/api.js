// Calls to the service: the stored bearer key, JSON errors made readable, LangServe's event stream.

const KEY_STORAGE = "code-interpreter.api-key";

// The page lives at <prefix>/ui/; the API routes sit next to it, behind any proxy prefix.
const BASE = location.pathname.replace(/\/ui(\/.*)?$/, "");

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
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
    throw new ApiError("The service is unavailable: the server did not answer.", 0);
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

export async function getJSON(path) {
  return (await request(path)).json();
}

async function errorFrom(response) {
  let detail;
  try {
    const body = await response.json();
    detail = describe(body.detail ?? body.message ?? body);
  } catch {
    detail = response.statusText || "no details";
  }
  return new ApiError(messageFor(response.status, detail), response.status);
}

export function describe(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
  return JSON.stringify(detail);
}

export function messageFor(status, detail) {
  if (status === 401 || status === 403) {
    return `Not authorised (${status}): ${detail}. Sign in again (reload the page) or enter an API key under Settings.`;
  }
  if (status === 413) return `The file is too large (413): ${detail}`;
  if (status === 429) return `Too many requests (429): ${detail}. Wait a moment, then try again.`;
  if (status === 502 || status === 503 || status === 504) {
    return `A backend is unavailable (${status}): ${detail}`;
  }
  if (status >= 500) return `The service failed (${status}): ${detail}`;
  return `${detail} (${status})`;
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

function parseEvent(block) {
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
