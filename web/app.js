// The chat page: conversations in the URL, answers streamed from /chat/stream, runs that go on
// while another conversation is open, stop, theme, shortcuts.

import { ApiError, apiKey, getJSON, messageFor, request, setApiKey, url } from "./api.js";
import { Composer } from "./composer.js";
import { ConversationList } from "./conversations.js";
import { actionButton, el } from "./dom.js";
import { FileShelf } from "./files.js";
import { markdownReady } from "./markdown.js";
import { AssistantView, UserView } from "./render.js";
import { streamTurn } from "./turn.js";

const $ = (id) => document.getElementById(id);
const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const THEME_STORAGE = "code-interpreter.theme";
// How long Stop waits for the interrupted code's own result (what it printed so far).
const STOP_GRACE_MS = 5000;
const STOPPED_NOTE = "Stopped. The conversation is still usable.";

const EXAMPLES = {
  offline: ["What is 25 * 847?", "What is 2 to the power of 64?", "What time is it right now?", "Show me this month's calendar"],
  model: [
    "Plot sin(x) and cos(x) from 0 to 2π",
    "What is 25 * 847? Then take its square root.",
    "Simulate 10,000 rolls of two dice and chart the totals",
    "Explain Bayes' theorem with a formula and a small worked example",
  ],
};

const SHORTCUTS = [
  ["Enter", "Send the message"],
  ["Shift + Enter", "New line in the message"],
  ["Esc", "Stop the answer being written"],
  ["Shift + Esc", "Go to the message box"],
  ["↑ (in an empty box)", "Edit your last message"],
  ["Ctrl + Shift + O", "New conversation"],
  ["Ctrl + K", "Search conversations"],
  ["Ctrl + Shift + C", "Copy the last answer"],
  ["Ctrl + /", "Show these shortcuts"],
];

const state = {
  id: "",
  info: null,
  // The open conversation's turns in order, {text, user, view, failed}: a turn's place in this
  // list is its number, which Retry, Regenerate and Edit name to replace it.
  turns: [],
  // Answers still being written, by conversation: they go on while another one is open.
  runs: new Map(),
  // The conversation being opened (its stored turns and running answer on their way); a
  // message waits for it, or its turn would be numbered, or drawn, out of place.
  opening: Promise.resolve(),
};

const composer = new Composer({
  form: $("composer"),
  box: $("message"),
  counter: $("counter"),
  problem: $("composer-problem"),
  send: $("send"),
  stop: $("stop"),
});
const files = new FileShelf({
  list: $("file-list"),
  status: $("upload-status"),
  conversation: () => state.id,
  alert: (message, err) => showAlert(`${message} ${explain(err)}`),
});
const list = new ConversationList({
  nav: $("conversation-list"),
  empty: $("no-match"),
  handlers: {
    open: (id) => openConversation(id, { push: true }),
    rename: renameConversation,
    remove: deleteConversation,
    failed: (message, err) => showAlert(`${message} ${explain(err)}`),
  },
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
  return err instanceof ApiError ? err.message : `Unexpected error: ${err.message || err}`;
}

function scrollToEnd() {
  const log = $("messages");
  log.scrollTop = log.scrollHeight;
}

function clearMessages() {
  $("messages").replaceChildren($("empty"));
  $("empty").hidden = false;
  state.turns = [];
}

function addToLog(...nodes) {
  $("empty").hidden = true;
  $("messages").append(...nodes);
  scrollToEnd();
}

// ---- what the service runs -------------------------------------------------------------------

async function loadInfo() {
  try {
    state.info = await getJSON("/info");
  } catch (err) {
    showAlert(`Could not ask the service about its model. ${explain(err)}`);
    return;
  }
  const { model, max_message_chars: limit, sign_in: signIn } = state.info;
  const offline = model.kind === "offline";
  const chip = $("model");
  chip.textContent = offline ? "Offline model" : model.name;
  chip.title = `Model: ${model.name}`;
  chip.classList.toggle("offline", offline);
  chip.hidden = false;
  $("offline-note").hidden = !offline;
  $("examples").replaceChildren(...EXAMPLES[offline ? "offline" : "model"].map(exampleButton));
  composer.setLimit(limit);
  $("settings").hidden = !signIn;
  $("signout-form").action = url("/signout");
}

function exampleButton(text) {
  const button = el("button", { type: "button", class: "example" }, text);
  button.addEventListener("click", () => send(text));
  return button;
}

// ---- conversations ----------------------------------------------------------------------------

function openConversation(id, options = {}) {
  state.opening = showConversation(id, options);
  return state.opening;
}

async function showConversation(id, { push = false, fresh = false }) {
  state.id = id;
  setUrl(id, push);
  clearMessages();
  setTitle("New conversation");
  showAlert("");
  composer.say("");
  closeMenu();
  files.clear();
  const conversations = await refreshConversations();
  if (id !== state.id) return;
  const known = conversations?.some((c) => c.id === id);
  // A new conversation has nothing stored yet: asking would only log a 404.
  if (!fresh && (known || !conversations)) await Promise.all([loadHistory(id), files.refresh()]);
  if (id !== state.id) return;
  const run = state.runs.get(id);
  if (run) addTurn(run.turn); // still being written: show it live
  composer.setBusy(Boolean(run));
  showTurnActions();
}

async function loadHistory(id) {
  let conversation;
  try {
    conversation = await getJSON(`/conversations/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err.status !== 404) showAlert(`Could not load this conversation. ${explain(err)}`);
    return;
  }
  if (id !== state.id) return;
  setTitle(conversation.title || "Untitled conversation");
  let turn = null;
  for (const message of conversation.messages || []) {
    if (message.role === "user") {
      turn = { text: message.content, user: new UserView(message.content), view: new AssistantView(), failed: false };
      addTurn(turn);
    } else if (turn) {
      turn.view.show(message);
      if (message.error) {
        // A turn that failed is kept: its error, and Retry if it is the last one.
        turn.failed = true;
        turn.view.setNote(messageFor(message.error.status_code, message.error.message), "error");
      }
    }
  }
}

async function refreshConversations() {
  let conversations;
  try {
    conversations = await getJSON("/conversations");
  } catch (err) {
    showAlert(explain(err));
    return null;
  }
  list.show(conversations, state.id, new Map([...state.runs].map(([id, run]) => [id, run.text])));
  const current = conversations.find((c) => c.id === state.id);
  if (current) setTitle(current.title || "Untitled conversation");
  return conversations;
}

async function renameConversation(id, title) {
  try {
    await request(`/conversations/${encodeURIComponent(id)}`, { method: "PATCH", json: { title } });
  } catch (err) {
    showAlert(`Could not rename the conversation. ${explain(err)}`);
  }
  await refreshConversations();
}

async function deleteConversation(id, title) {
  if (!confirm(`Delete the conversation “${title}” and its files?`)) return;
  try {
    await request(`/conversations/${encodeURIComponent(id)}`, { method: "DELETE" });
  } catch (err) {
    showAlert(explain(err));
    return;
  }
  if (id === state.id) await openConversation(newId(), { push: true, fresh: true });
  else await refreshConversations();
}

// ---- a turn of the conversation ---------------------------------------------------------------

function addTurn(turn) {
  state.turns.push(turn);
  addToLog(turn.user.node, turn.view.node);
}

/** Only the last turn offers Edit (its message) and Retry or Regenerate (its answer), and not
 *  while an answer is being written. */
function showTurnActions() {
  const running = state.runs.has(state.id);
  state.turns.forEach((turn, index) => {
    const last = index === state.turns.length - 1 && !running;
    turn.user.setActions(...(last ? [actionButton("edit", "Edit message", () => editTurn(index))] : []));
    if (state.runs.get(state.id)?.turn === turn) return;
    const again = turn.failed
      ? actionButton("retry", "Retry this message", () => send(turn.text, { replace: index }), "Retry")
      : actionButton("retry", "Regenerate answer", () => send(turn.text, { replace: index }), "Regenerate");
    turn.view.setActions(...(last ? [again] : []));
  });
}

function editTurn(index) {
  const turn = state.turns[index];
  if (turn && !state.runs.has(state.id)) turn.user.edit((text) => send(text, { replace: index }));
}

/** Send a message; with `replace`, it takes the place of that turn and the ones after it. */
async function send(text, { replace } = {}) {
  await conversationOpened();
  if (!text || state.runs.has(state.id)) return;
  showAlert("");
  composer.say("");
  if (replace !== undefined) {
    for (const old of state.turns.splice(replace)) {
      old.user.node.remove();
      old.view.node.remove();
    }
  }
  const id = state.id;
  const turn = { text, user: new UserView(text), view: new AssistantView(), failed: false };
  const run = { text, turn, controller: new AbortController(), stopping: false, answer: { output: "", steps: [] } };
  state.runs.set(id, run);
  refreshConversations();
  turn.view.setBusy(true);
  turn.view.setNote("Thinking…");
  addTurn(turn);
  showTurnActions();
  composer.setBusy(true);
  try {
    const signal = run.controller.signal;
    await streamTurn({ conversationId: id, text, replace, answer: run.answer, view: turn.view, signal });
    // Stopped, the turn may still end on its own first (the interrupted code answers, then
    // the model): it was stopped all the same.
    if (run.stopping) turn.view.setNote(STOPPED_NOTE, "stopped");
    else turn.view.setNote("");
  } catch (err) {
    failed(run, err);
  } finally {
    state.runs.delete(id);
    turn.view.setBusy(false);
    if (id === state.id) {
      showTurnActions();
      composer.setBusy(false);
      files.refresh();
    }
    refreshConversations();
  }
}

/** Once the conversation on screen is drawn (a newer opening may replace the awaited one). */
async function conversationOpened() {
  let opening;
  while (opening !== state.opening) {
    opening = state.opening;
    await opening.catch(() => {}); // the opening reports its own failure; sending still works
  }
}

function failed(run, err) {
  const { turn, answer } = run;
  const unfinished = answer.steps.filter((s) => s.status === "running");
  unfinished.forEach((s) => Object.assign(s, { status: "stopped" }));
  if (unfinished.length) turn.view.setSteps(answer.steps);
  if (err.name === "AbortError" || run.stopping) {
    turn.view.setNote(STOPPED_NOTE, "stopped");
    return;
  }
  if (err.rejected && !answer.output && !answer.steps.length) {
    // Refused before anything ran (too long, too many requests): the text goes back to the box.
    state.turns.splice(state.turns.indexOf(turn), 1);
    turn.user.node.remove();
    turn.view.node.remove();
    if (!$("messages").querySelector(".msg")) $("empty").hidden = false;
    composer.restore(run.text, explain(err));
    return;
  }
  turn.failed = true;
  turn.view.setNote(explain(err), "error");
}

async function stop() {
  const run = state.runs.get(state.id);
  if (!run || run.stopping) return;
  run.stopping = true;
  run.turn.view.setNote("Stopping…", "stopped");
  const interrupted = request(`/conversations/${encodeURIComponent(state.id)}/interrupt`, { method: "POST" }).then(
    // The interrupted code answers with what it printed so far: wait for that, briefly.
    () => until(() => !run.answer.steps.some((s) => s.status === "running"), STOP_GRACE_MS),
    (err) => {
      if (err.status !== 404 && err.status !== 409 && err.status !== 501) {
        showAlert(`Stop did not reach the code session. ${explain(err)}`);
      }
    },
  );
  await Promise.race([interrupted, sleep(STOP_GRACE_MS)]);
  run.controller.abort();
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(condition, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await sleep(50);
}

async function copyLastAnswer() {
  const answers = $("messages").querySelectorAll(".msg.assistant .msg-actions .copy");
  answers[answers.length - 1]?.click();
}

// ---- theme, menu, shortcuts -------------------------------------------------------------------

function storedTheme() {
  return localStorage.getItem(THEME_STORAGE) || "system";
}

function applyTheme(theme) {
  if (theme === "system") {
    localStorage.removeItem(THEME_STORAGE);
    delete document.documentElement.dataset.theme;
  } else {
    localStorage.setItem(THEME_STORAGE, theme);
    document.documentElement.dataset.theme = theme;
  }
  $("theme-label").textContent = `Theme: ${theme}`;
  $("theme").setAttribute("aria-label", `Theme: ${theme} (change)`);
}

function nextTheme() {
  const order = ["system", "light", "dark"];
  applyTheme(order[(order.indexOf(storedTheme()) + 1) % order.length]);
}

function closeMenu() {
  document.body.classList.remove("menu-open");
  $("menu").setAttribute("aria-expanded", "false");
}

function showShortcuts() {
  $("shortcut-list").replaceChildren(...SHORTCUTS.flatMap(([keys, what]) => [el("dt", {}, el("kbd", {}, keys)), el("dd", {}, what)]));
  $("shortcuts").showModal();
}

function onShortcut(event) {
  const mod = event.ctrlKey || event.metaKey;
  const key = event.key.toLowerCase();
  if (mod && event.shiftKey && key === "o") {
    event.preventDefault();
    startNewConversation();
  } else if (mod && !event.shiftKey && key === "k") {
    event.preventDefault();
    if (window.matchMedia("(max-width: 720px)").matches) $("menu").click();
    $("search").focus();
  } else if (mod && event.shiftKey && key === "c") {
    event.preventDefault();
    copyLastAnswer();
  } else if (mod && key === "/") {
    event.preventDefault();
    showShortcuts();
  } else if (event.key === "Escape" && event.shiftKey) {
    event.preventDefault();
    $("message").focus();
  } else if (event.key === "Escape" && document.body.classList.contains("menu-open")) {
    closeMenu();
    $("menu").focus();
  } else if (event.key === "Escape" && state.runs.has(state.id) && !document.querySelector("dialog[open]")) {
    stop();
  }
}

function startNewConversation() {
  openConversation(newId(), { push: true, fresh: true });
  $("message").focus();
}

function wire() {
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    if (state.runs.has(state.id)) return;
    const text = composer.take();
    if (text) send(text);
  });
  $("message").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    } else if (event.key === "ArrowUp" && !$("message").value) {
      event.preventDefault();
      editTurn(state.turns.length - 1);
    }
  });
  $("stop").addEventListener("click", stop);
  // On a phone the sidebar covers the chat: a tap beside it or Escape puts it away.
  document.addEventListener("click", (event) => {
    if (!event.target.closest("#sidebar, #menu")) closeMenu();
  });
  document.addEventListener("keydown", onShortcut);
  $("new-conversation").addEventListener("click", startNewConversation);
  $("search").addEventListener("input", (event) => list.filter(event.target.value));
  $("file-input").addEventListener("change", async (event) => {
    for (const file of event.target.files) await files.upload(file);
    event.target.value = "";
  });
  $("menu").addEventListener("click", () => {
    const open = document.body.classList.toggle("menu-open");
    $("menu").setAttribute("aria-expanded", String(open));
  });
  $("theme").addEventListener("click", nextTheme);
  $("shortcuts-button").addEventListener("click", showShortcuts);
  $("api-key").value = apiKey();
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setApiKey($("api-key").value.trim());
    showAlert("");
    refreshConversations();
  });
  $("clear-key").addEventListener("click", () => {
    setApiKey("");
    $("api-key").value = "";
  });
  window.addEventListener("popstate", () => openConversation(idFromUrl() || newId()));
}

async function start() {
  wire();
  applyTheme(storedTheme());
  // Answers are drawn as Markdown once its libraries are in; without them, as plain text.
  await Promise.all([loadInfo(), markdownReady.catch((err) => console.warn(err.message))]);
  const id = idFromUrl();
  await openConversation(id || newId(), { fresh: !id });
}

start();
