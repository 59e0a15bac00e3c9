// The chat page: conversations in the URL, answers streamed from /chat/stream_events, files.

import { ApiError, apiKey, getJSON, request, setApiKey, streamEvents, url } from "./api.js";
import { AssistantView, el, userMessage } from "./render.js";
import { addChunk } from "./chunks.js";

const $ = (id) => document.getElementById(id);
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const state = { id: "", controller: null, interrupted: false };
const BROKEN_STREAM =
  "The service broke off the answer without saying why: the model or the code session " +
  "probably failed. Try again; if it keeps failing, the service log has the cause.";

function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // Plain-HTTP pages off localhost have no randomUUID; getRandomValues works everywhere.
  const hex = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0"));
  return hex.join("");
}

function idFromUrl() {
  const id = new URLSearchParams(location.search).get("c") || "";
  return ID_PATTERN.test(id) ? id : "";
}

function setUrl(id, push) {
  const target = new URL(location.href);
  target.searchParams.set("c", id);
  history[push ? "pushState" : "replaceState"](null, "", target);
}

function showAlert(message) {
  $("alert").textContent = message || "";
  $("alert").hidden = !message;
}

function explain(err) {
  if (err.status === 401 || err.status === 403) $("settings").open = true;
  return err instanceof ApiError ? err.message : `Unexpected error: ${err.message || err}`;
}

function scrollToEnd() {
  const log = $("messages");
  log.scrollTop = log.scrollHeight;
}

function clearMessages() {
  $("messages").replaceChildren($("empty-hint") || el("p"));
  $("empty-hint").hidden = false;
}

function addToLog(node) {
  $("empty-hint").hidden = true;
  $("messages").append(node);
  scrollToEnd();
}

// ---- conversations ------------------------------------------------------------------------

async function openConversation(id, { push = false } = {}) {
  abortTurn();
  state.id = id;
  setUrl(id, push);
  clearMessages();
  $("title").textContent = "New conversation";
  showAlert("");
  closeMenu();
  await Promise.all([loadHistory(id), refreshFiles(), refreshConversations()]);
}

async function loadHistory(id) {
  let conversation;
  try {
    conversation = await getJSON(`/conversations/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err.status === 404) return; // a new conversation: nothing stored yet
    showAlert(`Could not load this conversation. ${explain(err)}`);
    return;
  }
  if (id !== state.id) return;
  $("title").textContent = conversation.title || "Untitled conversation";
  for (const message of conversation.messages || []) {
    if (message.role === "user" || message.role === "human") {
      addToLog(userMessage(message.content));
    } else {
      const view = new AssistantView();
      view.show(message);
      addToLog(view.node);
    }
  }
}

async function refreshConversations() {
  let conversations;
  try {
    conversations = await getJSON("/conversations");
  } catch (err) {
    showAlert(explain(err));
    return;
  }
  $("conversation-list").replaceChildren(...conversations.map(conversationItem));
  const current = conversations.find((c) => c.id === state.id);
  if (current) $("title").textContent = current.title || "Untitled conversation";
}

function conversationItem(conversation) {
  const title = conversation.title || "Untitled conversation";
  const open = el(
    "button",
    { type: "button", class: "open", "aria-current": conversation.id === state.id ? "page" : null },
    title,
  );
  open.addEventListener("click", () => openConversation(conversation.id, { push: true }));
  const remove = el("button", { type: "button", class: "delete", "aria-label": `Delete “${title}”` }, "×");
  remove.addEventListener("click", () => deleteConversation(conversation.id, title));
  return el("li", {}, open, remove);
}

async function deleteConversation(id, title) {
  if (!confirm(`Delete the conversation “${title}” and its files?`)) return;
  try {
    await request(`/conversations/${encodeURIComponent(id)}`, { method: "DELETE" });
  } catch (err) {
    showAlert(explain(err));
    return;
  }
  if (id === state.id) await openConversation(newId(), { push: true });
  else await refreshConversations();
}

// ---- files --------------------------------------------------------------------------------

function fileUrl(name) {
  return `/conversations/${encodeURIComponent(state.id)}/files/${encodeURIComponent(name)}`;
}

function formatSize(bytes) {
  if (!Number.isFinite(bytes)) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function fileItem(file) {
  const link = el("a", { href: url(fileUrl(file.name)), download: file.name }, file.name);
  link.setAttribute("aria-label", `Download ${file.name}`);
  link.addEventListener("click", (event) => downloadWithKey(event, file.name));
  return el("li", {}, link, el("small", {}, ` ${formatSize(file.size)}`));
}

// A plain link cannot carry the bearer key; with a key set, fetch the file and save the blob.
async function downloadWithKey(event, name) {
  if (!apiKey()) return;
  event.preventDefault();
  try {
    const blob = await (await request(fileUrl(name))).blob();
    const href = URL.createObjectURL(blob);
    const link = el("a", { href, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(href), 10000);
  } catch (err) {
    showAlert(`Download failed. ${explain(err)}`);
  }
}

async function refreshFiles() {
  const id = state.id;
  let files = [];
  let problem = "";
  try {
    files = (await getJSON(`/conversations/${encodeURIComponent(id)}/files`)).files || [];
  } catch (err) {
    if (err.status !== 404) problem = `Could not list files. ${explain(err)}`;
  }
  if (problem || $("upload-status").dataset.problem) $("upload-status").textContent = problem;
  $("upload-status").dataset.problem = problem;
  if (id !== state.id) return;
  $("file-list").replaceChildren(...files.map(fileItem));
}

async function upload(file) {
  const form = new FormData();
  form.append("file", file, file.name);
  $("upload-status").textContent = `Uploading ${file.name}…`;
  try {
    const saved = await (
      await request(`/conversations/${encodeURIComponent(state.id)}/files`, { method: "POST", body: form })
    ).json();
    $("upload-status").textContent = `Uploaded ${saved.name || file.name} (${formatSize(saved.size)}).`;
  } catch (err) {
    $("upload-status").textContent = "";
    showAlert(`Upload of ${file.name} failed. ${explain(err)}`);
  }
  await refreshFiles();
}

// ---- a turn of the conversation -----------------------------------------------------------

function setBusy(busy) {
  $("send").hidden = busy;
  $("stop").hidden = !busy;
  $("composer").classList.toggle("busy", busy);
}

async function send(text) {
  showAlert("");
  addToLog(userMessage(text));
  const view = new AssistantView();
  view.setBusy(true);
  view.setNote("Thinking…");
  addToLog(view.node);
  state.controller = new AbortController();
  state.interrupted = false;
  setBusy(true);
  const id = state.id;
  const answer = { output: "", steps: [] };
  try {
    await streamTurn(text, answer, view, state.controller.signal);
    view.setNote("");
  } catch (err) {
    if (err.name === "AbortError" || state.interrupted) {
      view.setNote("Stopped. The conversation is still usable.", "stopped");
    } else {
      view.setNote(explain(err), "error");
    }
    const unfinished = answer.steps.filter((s) => s.status === "running");
    unfinished.forEach((s) => Object.assign(s, { status: "Interrupted" }));
    if (unfinished.length) view.setSteps(answer.steps);
  } finally {
    view.setBusy(false);
    setBusy(false);
    state.controller = null;
    if (id === state.id) {
      refreshFiles();
      refreshConversations();
    }
  }
}

async function streamTurn(text, answer, view, signal) {
  const payload = { input: { message: text }, config: { configurable: { conversation_id: state.id } } };
  try {
    for await (const { event, data } of streamEvents("/chat/stream", payload, signal)) {
      if (event === "end") break;
      if (event === "error") throw streamError(answer.error || data);
      if (event === "data" && data && typeof data === "object") showChunk(data, answer, view);
    }
  } catch (err) {
    if (err instanceof ApiError || err.name === "AbortError") throw err;
    // The service drops the connection right after a failure; its error chunk may be all we got.
    throw answer.error ? streamError(answer.error) : new ApiError(BROKEN_STREAM, 0);
  }
  if (answer.error) throw streamError(answer.error);
}

function showChunk(data, answer, view) {
  const changed = addChunk(answer, data);
  if (changed.has("steps")) view.setSteps(answer.steps);
  if (changed.has("route")) view.setRoute(answer.route, answer.steps.length > 0);
  if (changed.has("output")) view.setText(answer.output);
  const running = answer.steps.some((step) => step.status === "running");
  view.setNote(running ? "Running Python…" : answer.output ? "" : "Thinking…");
  scrollToEnd();
}

// The service sends {error: {status_code, message}} in the stream before LangServe's own,
// generic error event; prefer the service's words.
function streamError(error) {
  const status = error?.status_code ?? 500;
  const message = error?.message ?? "unknown error";
  const hint = status >= 500 ? " The model or the code session may be unavailable." : "";
  return new ApiError(`The answer failed (${status}): ${message}.${hint}`, status);
}

async function stop() {
  if (!state.controller) return;
  state.interrupted = true;
  state.controller.abort();
  try {
    await request(`/conversations/${encodeURIComponent(state.id)}/interrupt`, { method: "POST" });
  } catch (err) {
    if (err.status !== 404 && err.status !== 409) showAlert(`Stop did not reach the code session. ${explain(err)}`);
  }
}

function abortTurn() {
  if (state.controller) state.controller.abort();
}

// ---- wiring -------------------------------------------------------------------------------

function closeMenu() {
  document.body.classList.remove("menu-open");
  $("menu").setAttribute("aria-expanded", "false");
}

function autoGrow() {
  const box = $("message");
  box.style.height = "auto";
  box.style.height = `${Math.min(box.scrollHeight, 200)}px`;
}

function wire() {
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("message").value.trim();
    if (!text || state.controller) return;
    $("message").value = "";
    autoGrow();
    send(text);
  });
  $("message").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("message").addEventListener("input", autoGrow);
  $("stop").addEventListener("click", stop);
  // On a phone the sidebar covers the chat: a tap beside it or Escape puts it away.
  document.addEventListener("click", (event) => {
    if (!event.target.closest("#sidebar, #menu")) closeMenu();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && document.body.classList.contains("menu-open")) {
      closeMenu();
      $("menu").focus();
    }
  });
  $("new-conversation").addEventListener("click", () => openConversation(newId(), { push: true }));
  $("file-input").addEventListener("change", async (event) => {
    for (const file of event.target.files) await upload(file);
    event.target.value = "";
  });
  $("menu").addEventListener("click", () => {
    const open = document.body.classList.toggle("menu-open");
    $("menu").setAttribute("aria-expanded", String(open));
  });
  $("api-key").value = apiKey();
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setApiKey($("api-key").value.trim());
    openConversation(state.id);
  });
  $("clear-key").addEventListener("click", () => {
    setApiKey("");
    $("api-key").value = "";
  });
  window.addEventListener("popstate", () => openConversation(idFromUrl() || newId()));
}

wire();
openConversation(idFromUrl() || newId());
