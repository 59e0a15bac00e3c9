// The messages of the chat: the user's text, and answers with their Python steps, plots and
// Markdown text. Model and code output never become markup except through markdown.js.

import { actionButton, copyButton, el, icon } from "./dom.js";
import { codeBlock, htmlTable, renderMarkdown } from "./markdown.js";
import { tracebackBlock } from "./traceback.js";

export { el };

/** The user's message, with Copy (and Edit, on the last one) under it. */
export class UserView {
  constructor(text) {
    this.text = text;
    this.bubble = el("div", { class: "bubble" }, text);
    this.actions = el("div", { class: "msg-actions" });
    this.node = el("article", { class: "msg user", "aria-label": "You" }, this.bubble, this.actions);
    this.setActions();
  }

  setActions(...buttons) {
    this.actions.replaceChildren(copyButton(() => this.text, "Copy message", false), ...buttons);
  }

  /** Edit the text in place: Enter or Save sends `onSave(newText)`, Escape or Cancel keeps it. */
  edit(onSave) {
    const box = el("textarea", { class: "edit-box", "aria-label": "Edit message", rows: 3 });
    box.value = this.text;
    const restore = () => form.replaceWith(this.bubble);
    const save = () => {
      const text = box.value.trim();
      restore();
      if (text) onSave(text);
    };
    const cancel = el("button", { type: "button" }, "Cancel");
    const send = el("button", { type: "submit", class: "primary" }, "Send");
    const form = el("form", { class: "edit" }, box, el("div", { class: "edit-actions" }, cancel, send));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      save();
    });
    cancel.addEventListener("click", restore);
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        save();
      } else if (event.key === "Escape") {
        event.stopPropagation();
        restore();
      }
    });
    this.bubble.replaceWith(form);
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  }
}

const BASE64 = /^[A-Za-z0-9+/=\s]+$/;

/** A plot made by the code: the image, a download link and a button to see it large. */
export function plot(base64, index) {
  if (typeof base64 !== "string" || !BASE64.test(base64)) return null;
  const src = `data:image/png;base64,${base64.replace(/\s/g, "")}`;
  const name = `Plot ${index + 1} made by the code`;
  const image = el("img", { class: "plot-image", src, alt: name });
  const open = () => showLarge(src, name);
  image.addEventListener("click", open);
  const download = el(
    "a",
    { class: "action", href: src, download: `plot-${index + 1}.png`, title: "Download PNG", "aria-label": `Download plot ${index + 1}` },
    icon("download"),
    el("span", {}, "Download"),
  );
  return el(
    "figure",
    { class: "plot" },
    image,
    el("figcaption", { class: "plot-actions" }, download, actionButton("expand", `Open plot ${index + 1} large`, open, "Open large")),
  );
}

/** The plot at the size of the window, in a dialog that Escape or a click beside it closes. */
function showLarge(src, name) {
  let dialog = document.querySelector("dialog.lightbox");
  if (!dialog) {
    const close = el("button", { class: "action close", "aria-label": "Close" }, icon("close"));
    dialog = el("dialog", { class: "msg lightbox", "aria-label": "Plot" }, el("form", { method: "dialog" }, close), el("img", { alt: "" }));
    dialog.addEventListener("click", (event) => event.target === dialog && dialog.close());
    document.body.append(dialog);
  }
  Object.assign(dialog.querySelector("img"), { src, alt: name });
  dialog.showModal();
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

const STATE_LABEL = { running: "running…", stopped: "stopped", failed: "error", ok: "ok" };

function part(label, className, ...content) {
  return el("div", { class: `part ${className}` }, el("h4", {}, label), ...content);
}

/** The step's result as text (its tables and plots are shown under the steps). */
function resultPart(step) {
  const result = step.result;
  if (result === undefined || result === null || result === "") return null;
  if (typeof result === "object" && result.type === "image") return null;
  const text = typeof result === "string" ? result : JSON.stringify(result, null, 2);
  return part("Result", "result", el("pre", {}, text));
}

/** One run of code: a collapsible block with the code, what it printed, its result or error.
 *  A step is {index, code, status, stdout, stderr, result, images: [base64 PNG], html: [HTML]}. */
export function stepBlock(step, open) {
  const state = stepState(step);
  const failed = state === "failed";
  return el(
    "details",
    { class: `step ${state}`, open: open || failed },
    el("summary", {}, el("span", { class: "step-title" }, state === "running" ? "Running Python" : "Ran Python"), el("span", { class: "status" }, STATE_LABEL[state])),
    step.code ? part("Code", "code", codeBlock(step.code, "python")) : null,
    step.stdout ? part("Output", "stdout", el("pre", {}, step.stdout)) : null,
    resultPart(step),
    step.stderr ? part(failed ? "Error" : "Errors", "stderr", tracebackBlock(step.stderr)) : null,
  );
}

/** An answer that is re-drawn as its stream arrives. */
export class AssistantView {
  constructor() {
    this.steps = el("div", { class: "steps" });
    this.plots = el("div", { class: "plots" });
    this.tables = el("div", { class: "tables" });
    this.text = el("div", { class: "text markdown" });
    this.note = el("p", { class: "note", hidden: true });
    this.actions = el("div", { class: "msg-actions" });
    this.node = el(
      "article",
      { class: "msg assistant", "aria-label": "Assistant" },
      this.steps,
      this.plots,
      this.tables,
      this.text,
      this.note,
      this.actions,
    );
    this.markdown = "";
    this.frame = 0;
  }

  /** The answer's text; drawn at most once per frame while tokens stream in. */
  setText(text) {
    this.markdown = text || "";
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  flush() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    renderMarkdown(this.text, this.markdown);
  }

  setBusy(busy) {
    if (!busy) this.flush();
    this.node.classList.toggle("busy", busy);
    this.node.setAttribute("aria-busy", busy ? "true" : "false");
  }

  /** Re-draw the steps, keeping open any block the reader opened. */
  setSteps(steps) {
    const opened = [...this.steps.children].map((d) => d.open);
    this.steps.replaceChildren(...steps.map((s, i) => stepBlock(s, opened[i])));
    const images = steps.flatMap((s) => s.images || []);
    if (images.length !== this.plots.children.length) {
      this.plots.replaceChildren(...images.map((b64, i) => plot(b64, i)).filter(Boolean));
    }
    // Each HTML output (a DataFrame's table), sanitised down to a table: no script runs.
    const tables = steps.flatMap((s) => s.html || []);
    if (tables.length !== this.tables.children.length) this.tables.replaceChildren(...tables.map(htmlTable));
  }

  setNote(text, kind = "info") {
    this.note.hidden = !text;
    this.note.className = `note ${kind}`;
    this.note.textContent = text || "";
  }

  /** Buttons under the answer: Copy, then the given ones (Retry, Regenerate). */
  setActions(...buttons) {
    const copy = this.markdown ? copyButton(() => this.markdown, "Copy answer") : null;
    this.actions.replaceChildren(...[copy, ...buttons].filter(Boolean));
  }

  /** A whole stored or final message: {content|output, route, steps}. */
  show(message) {
    this.setSteps(message.steps || []);
    this.markdown = message.output ?? message.content ?? "";
    this.flush();
    this.setActions();
  }
}
