// The chat page: conversations in the URL, answers streamed from /chat/stream, stop, settings.

import { ApiError, apiKey, getJSON, request, setApiKey } from "./api.js";
import { FileShelf } from "./files.js";
import { AssistantView, el, userMessage } from "./render.js";
import { streamTurn } from "./turn.js";

const $ = (id) => document.getElementById(id);
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const state = { id: "", controller: null, interrupted: false };
const files = new FileShelf({
  list: $("file-list"),
  status: $("upload-status"),
  conversation: () => state.id,
  alert: (message, err) => showAlert(`${message} ${explain(err)}`),
});

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

function setTitle(title) {
  $("title").textContent = title;
  document.title = `${title} · Code interpreter`;
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
  setTitle("New conversation");
  showAlert("");
  closeMenu();
  await Promise.all([loadHistory(id), files.refresh(), refreshConversations()]);
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
  setTitle(conversation.title || "Untitled conversation");
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
  if (current) setTitle(current.title || "Untitled conversation");
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
    await streamTurn({ conversationId: id, text, answer, view, signal: state.controller.signal });
    scrollToEnd();
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
      files.refresh();
      refreshConversations();
    }
  }
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
  $("new-conversation").addEventListener("click", () => {
    openConversation(newId(), { push: true });
    $("message").focus();
  });
  $("file-input").addEventListener("change", async (event) => {
    for (const file of event.target.files) await files.upload(file);
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
