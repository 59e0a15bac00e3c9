// Added to LangServe's playground pages (see pages.py): the run's answer as the chat page shows
// it (merged text as Markdown, the route, each Python step with its output, plots as images)
// above LangServe's raw view of the stream, which stays one click away.
//
// The playground reads /stream_log through fetch(); this add-on reads the same events on their
// way in. For a graph whose output is not a message (the agent streams node updates), it also
// tells the playground's chat widget the answer's text, so the conversation there goes on.

import { parseEvent } from "./api.js";
import { addChunk } from "./chunks.js";
import { el } from "./dom.js";
import { markdownReady } from "./markdown.js";
import { AssistantView } from "./render.js";

const STREAM_LOG = /\/stream_log$/;

document.head.append(el("link", { rel: "stylesheet", href: new URL("./answer.css", import.meta.url) }));
document.head.append(el("link", { rel: "stylesheet", href: new URL("./playground.css", import.meta.url) }));

const panel = el("section", { class: "ci-answer", "aria-label": "Answer", hidden: true });
const rawToggle = el("button", { type: "button", class: "ci-raw", "aria-expanded": "false" }, "Show the raw stream");
let view = null;

const nativeFetch = window.fetch.bind(window);
window.fetch = async (input, init) => {
  const response = await nativeFetch(input, init);
  const target = new URL(input instanceof Request ? input.url : String(input), location.href);
  if (!STREAM_LOG.test(target.pathname) || !response.ok || !response.body) return response;
  const run = new Run();
  return new Response(run.follow(response.body), { status: response.status, statusText: response.statusText, headers: response.headers });
};

/** One /stream_log run: its events, passed on unchanged, drawn as an answer on the way. */
class Run {
  constructor() {
    this.answer = { output: "", steps: [] };
    this.route = "";
    this.final = undefined;
    this.toolCalls = new Map(); // agent: tool call id -> step index
    view = new AssistantView();
    view.setBusy(true);
    view.setNote("Thinking…");
    showPanel();
  }

  follow(body) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const encoder = new TextEncoder();
    let buffer = "";
    return new ReadableStream({
      pull: async (controller) => {
        const { value, done } = await reader.read();
        if (done) {
          this.finish();
          // Let the playground draw the last events before it hears the end: its chat widget
          // adds the next message from what it drew last.
          await new Promise((resolve) => setTimeout(resolve, 100));
          controller.close();
          return;
        }
        buffer += decoder.decode(value, { stream: true });
        let out = "";
        let match;
        while ((match = /\r?\n\r?\n/.exec(buffer))) {
          const block = buffer.slice(0, match.index + match[0].length);
          buffer = buffer.slice(match.index + match[0].length);
          const event = parseEvent(block.trim());
          out += block;
          if (event?.event === "data") out += this.apply(event.data?.ops || []);
          if (event?.event === "error") view.setNote(`The run failed: ${event.data?.message || "unknown error"}`, "error");
        }
        if (out) controller.enqueue(encoder.encode(out));
      },
      cancel: (reason) => reader.cancel(reason),
    });
  }

  /** Follow one event's operations; returns an event to add for the chat widget, or "". */
  apply(ops) {
    const before = this.answer.output;
    for (const op of ops) {
      if (op.path === "/streamed_output/-") this.chunk(op.value);
      else if (op.path === "/final_output" || (op.path === "" && op.value && "final_output" in op.value)) {
        this.final = op.path ? op.value : op.value.final_output;
      }
    }
    return this.answer.output !== before ? this.widgetEvent() : "";
  }

  /** A chunk of the runnable's own stream: /chat's answer pieces, or the agent's node updates. */
  chunk(value) {
    if (!value || typeof value !== "object") return;
    if ("output" in value || "steps" in value || "route" in value) {
      addChunk(this.answer, value);
      if (value.route) this.route = value.route;
    } else {
      for (const update of Object.values(value)) for (const message of update?.messages || []) this.message(message);
    }
    this.draw();
  }

  message(message) {
    if (message.type === "ai" && message.tool_calls?.length) {
      const steps = message.tool_calls.map((call) => {
        this.toolCalls.set(call.id, this.toolCalls.size);
        return { index: this.toolCalls.get(call.id), code: call.args?.python_code ?? JSON.stringify(call.args), status: "running" };
      });
      addChunk(this.answer, { steps });
    } else if (message.type === "tool" && this.toolCalls.has(message.tool_call_id)) {
      const index = this.toolCalls.get(message.tool_call_id);
      const result = message.artifact && typeof message.artifact === "object" ? clientStep(message.artifact) : { status: "Failure", stderr: String(message.content) };
      addChunk(this.answer, { steps: [{ index, ...result }] });
    } else if (message.type === "ai" && typeof message.content === "string" && message.content) {
      this.answer.output = message.content;
    }
  }

  draw() {
    view.setSteps(this.answer.steps);
    view.setText(this.answer.output);
    const running = this.answer.steps.some((step) => step.status === "running");
    const route = this.route ? `Route: ${this.route}. ` : "";
    view.setNote(`${route}${running ? "Running Python…" : this.answer.output ? "" : "Thinking…"}`.trim());
  }

  finish() {
    view.setBusy(false);
    const route = this.route ? `Route: ${this.route}${this.route === "python" ? " (the answer ran code)" : ""}.` : "";
    if (!view.note.classList.contains("error")) view.setNote(route);
    view.setActions();
  }

  // The chat widget fills in its AI message from a final output that is a message or a string;
  // an agent's final output is a node update, so say the answer the way the widget reads it.
  // (/chat's output is its own merged answer, which no widget reads.)
  widgetEvent() {
    const final = this.final;
    const readable = typeof final === "string" || (final && typeof final.content === "string");
    if (readable || !this.answer.output || this.route) return "";
    const op = { op: "replace", path: "/final_output", value: { type: "AIMessageChunk", content: this.answer.output } };
    return `event: data\r\ndata: ${JSON.stringify({ ops: [op] })}\r\n\r\n`;
  }
}

function showPanel() {
  panel.replaceChildren(el("h3", {}, "Answer"), view.node);
  place();
}

/** Put the panel under LangServe's Output heading, which appears with the first run. */
function place() {
  const heading = [...document.querySelectorAll("h2")].find((h) => h.textContent.trim() === "Output");
  if (!view || !heading || heading.nextElementSibling === panel) return;
  const raw = heading.nextElementSibling; // the chunks one after the other, as LangServe prints them
  heading.after(panel, rawToggle);
  raw.style.display = "none";
  rawToggle.onclick = () => {
    const show = raw.style.display === "none";
    raw.style.display = show ? "" : "none";
    rawToggle.textContent = show ? "Hide the raw stream" : "Show the raw stream";
    rawToggle.setAttribute("aria-expanded", String(show));
  };
  panel.hidden = false;
}

new MutationObserver(place).observe(document.body, { childList: true, subtree: true });

markdownReady.catch((err) => console.warn(err.message));

/** The agent's step (its tool message's artifact) as the page draws steps: the cell's Jupyter
 *  `outputs` as `images` (every PNG) and `html` (every other table), as the service's
 *  conversations/outputs.py client_step gives them to /chat's clients. */
function clientStep(artifact) {
  if (!Array.isArray(artifact.outputs)) return artifact;
  const { outputs, ...step } = artifact;
  const rich = outputs.filter((o) => o && ["display_data", "execute_result"].includes(o.output_type)).map((o) => o.data || {});
  step.images = rich.filter((data) => typeof data["image/png"] === "string").map((data) => data["image/png"]);
  step.html = rich.filter((data) => typeof data["image/png"] !== "string" && typeof data["text/html"] === "string").map((data) => data["text/html"]);
  return step;
}
