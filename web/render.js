// DOM builders for the chat. Model and code output only ever goes in as text, never as HTML.

/** createElement with attributes; string children become text nodes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== undefined && c !== null && c !== false));
  return node;
}

/** Text nodes for one paragraph of prose, with **bold** and `code` spans. */
function inline(text) {
  return text
    .split(/(\*\*[^*\n]+\*\*|`[^`\n]+`)/)
    .filter(Boolean)
    .map((piece) => {
      if (/^\*\*.+\*\*$/.test(piece)) return el("strong", {}, piece.slice(2, -2));
      if (/^`.+`$/.test(piece)) return el("code", {}, piece.slice(1, -1));
      return piece;
    });
}

/** Plain text, with ``` fenced blocks shown as code. */
export function renderText(container, text) {
  container.replaceChildren();
  String(text || "")
    .split("```")
    .forEach((part, i) => {
      if (i % 2 === 0) {
        if (part.trim()) container.append(el("div", { class: "prose" }, ...inline(part.trim())));
      } else {
        container.append(el("pre", { class: "fenced" }, el("code", {}, part.replace(/^[\w.+-]*\n/, ""))));
      }
    });
}

export function userMessage(text) {
  return el("article", { class: "msg user", "aria-label": "You" }, el("div", { class: "prose" }, text));
}

const BASE64 = /^[A-Za-z0-9+/=\s]+$/;

export function plot(base64, index) {
  if (typeof base64 !== "string" || !BASE64.test(base64)) return null;
  return el("img", {
    class: "plot",
    src: `data:image/png;base64,${base64.replace(/\s/g, "")}`,
    alt: `Plot ${index + 1} made by the code`,
  });
}

export function isFailure(step) {
  return /fail|error/i.test(String(step.status || ""));
}

// A run the user stopped reads "stopped", whichever came first on the service: the stop
// (status "stopped") or the interrupt's own result (a failure ending in KeyboardInterrupt,
// which the local pool labels "Interrupted on request").
const STOPPED_STATUS = /interrupt|cancel|stop/i;
const STOPPED_STDERR = /Interrupted on request|KeyboardInterrupt\s*$/;

/** "running", "stopped", "failed" or "ok". */
export function stepState(step) {
  const status = String(step.status || "");
  if (status === "running") return "running";
  if (STOPPED_STATUS.test(status)) return "stopped";
  if (isFailure(step)) return STOPPED_STDERR.test(step.stderr || "") ? "stopped" : "failed";
  return "ok";
}

function showable(result) {
  if (result === undefined || result === null || result === "") return "";
  if (typeof result === "object" && result.type === "image") return "";
  return typeof result === "string" ? result : JSON.stringify(result, null, 2);
}

function section(label, className, text) {
  if (!text) return null;
  return el("div", { class: `part ${className}` }, el("h4", {}, label), el("pre", {}, text));
}

/** One run of code: a collapsible block with the code, stdout, stderr and result. */
export function stepBlock(step, open) {
  const state = stepState(step);
  const failed = state === "failed";
  const label = { running: "running…", stopped: "stopped", failed: "error", ok: "ok" }[state];
  return el(
    "details",
    { class: `step ${state}`, open: open || failed },
    el("summary", {}, "Python code ", el("span", { class: "status" }, label)),
    section("Code", "code", step.code || ""),
    section("Output", "stdout", step.stdout || ""),
    section(failed ? "Error" : "Errors", "stderr", step.stderr || ""),
    section("Result", "result", showable(step.result)),
  );
}

/** An assistant message that can be re-rendered as stream events arrive. */
export class AssistantView {
  constructor() {
    this.badges = el("div", { class: "badges" });
    this.steps = el("div", { class: "steps" });
    this.plots = el("div", { class: "plots" });
    this.text = el("div", { class: "text" });
    this.note = el("p", { class: "note", hidden: true });
    this.node = el(
      "article",
      { class: "msg assistant", "aria-label": "Assistant" },
      this.badges,
      this.steps,
      this.plots,
      this.text,
      this.note,
    );
  }

  setText(text) {
    renderText(this.text, text);
  }

  setBusy(busy) {
    this.node.classList.toggle("busy", busy);
    this.node.setAttribute("aria-busy", busy ? "true" : "false");
  }

  setRoute(route, ranCode) {
    this.badges.replaceChildren();
    if (route === "python" || ranCode) this.badges.append(el("span", { class: "badge" }, "ran Python"));
  }

  /** Re-draw the steps, keeping open any block the reader opened. */
  setSteps(steps) {
    const opened = [...this.steps.children].map((d) => d.open);
    this.steps.replaceChildren(...steps.map((s, i) => stepBlock(s, opened[i])));
    this.plots.replaceChildren(
      ...steps.flatMap((s) => s.images || []).map((b64, i) => plot(b64, i)).filter(Boolean),
    );
    if (steps.length) this.setRoute("python", true);
  }

  setNote(text, kind = "info") {
    this.note.hidden = !text;
    this.note.className = `note ${kind}`;
    this.note.textContent = text || "";
  }

  /** A whole stored or final message: {content|output, route, steps}. */
  show(message) {
    this.setSteps(message.steps || []);
    this.setRoute(message.route, (message.steps || []).length > 0);
    this.setText(message.output ?? message.content ?? "");
  }
}
