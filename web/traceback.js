// Tracebacks trimmed to the user's own code: frames inside libraries fold into one line that
// opens on request, as notebooks do. Anything that is not a traceback is shown unchanged.
//
// Two layouts arrive. Plain Python indents each frame under its header:
//     File "/usr/lib/python3.11/json/decoder.py", line 337, in decode
//       obj, end = self.raw_decode(s, idx=_w(s, 0).end())
// IPython (the sessions' kernel, xmode Context) starts a frame at the margin and ends it with a
// blank line; its source lines carry line numbers and arrows (`---->`, `-->`, `->`, `(...)`):
//     File /usr/lib/python3.11/json/decoder.py:337, in JSONDecoder.decode(self, s, _w)
//         336 """
//     --> 337 obj, end = self.raw_decode(s, idx=_w(s, 0).end())
//     <blank>

import { el } from "./dom.js";

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;
// A frame's first line: plain Python's `File "path", line N`, IPython's `File path:N` or a
// notebook cell's `Cell In[3], line 2`. The path is the first or second group.
const FRAME = /^(\s*)(?:File "([^"]+)", line \d+|File (.+?):\d+(?:, in |$)|Cell In\[\d+\], line \d+)/;
// The user's code: notebook cells, <string>, <stdin>, and files in /mnt/data.
const USER_CODE = /^(?:<(?:cell|ipython-input|string|stdin)[^>]*>|\/mnt\/data\/)/;
// A source line inside an IPython frame: indented, or led by an arrow or an elision.
const IPYTHON_SOURCE = /^(?:\s|-*>|\(\.\.\.\))/;

/** Split a traceback into runs: {text} for lines shown, {library: [lines], where} for folded. */
export function traceback(text) {
  const lines = String(text || "").replace(ANSI, "").replace(/\s+$/, "").split("\n");
  const runs = [];
  let frame = null;
  const flush = () => {
    if (!frame) return;
    const last = runs[runs.length - 1];
    if (!frame.user && last && last.library) {
      last.library.push(...frame.lines);
      last.where.add(frame.where);
    } else if (!frame.user) {
      runs.push({ library: [...frame.lines], where: new Set([frame.where]) });
    } else {
      runs.push({ text: frame.lines });
    }
    frame = null;
  };
  for (const line of lines) {
    const match = FRAME.exec(line);
    if (match) {
      flush();
      const path = match[2] ?? match[3] ?? "<cell>";
      frame = {
        user: line.includes("Cell In[") || USER_CODE.test(path),
        where: library(path),
        ipython: match[1] === "" && match[2] === undefined,
        lines: [line],
      };
    } else if (frame && frame.ipython && line.trim() === "") {
      // The blank line closes an IPython frame; it folds with the frame it closes.
      frame.lines.push(line);
      flush();
    } else if (frame && (frame.ipython ? IPYTHON_SOURCE : /^\s/).test(line)) {
      frame.lines.push(line);
    } else {
      flush();
      runs.push({ text: [line] });
    }
  }
  flush();
  return runs;
}

function library(path) {
  const inPackages = /(?:site|dist)-packages\/([^/]+)/.exec(path);
  if (inPackages) return inPackages[1].replace(/\.py$/, "");
  const inStdlib = /python3\.\d+\/([^/]+)/.exec(path);
  return inStdlib ? inStdlib[1].replace(/\.py$/, "") : "the runtime";
}

/** The traceback as a <pre>: library frames folded behind a button that unfolds them. */
export function tracebackBlock(text) {
  const pre = el("pre", { class: "traceback" });
  for (const run of traceback(text)) {
    if (run.text) {
      pre.append(`${run.text.join("\n")}\n`);
      continue;
    }
    const frames = run.library.filter((line) => FRAME.test(line)).length;
    const where = [...run.where].join(", ");
    const hidden = el("span", { class: "folded", hidden: true }, `${run.library.join("\n")}\n`);
    const toggle = el(
      "button",
      { type: "button", class: "fold", "aria-expanded": "false" },
      `⋯ ${frames} ${frames === 1 ? "frame" : "frames"} in ${where}`,
    );
    toggle.addEventListener("click", () => {
      hidden.hidden = !hidden.hidden;
      toggle.setAttribute("aria-expanded", String(!hidden.hidden));
    });
    pre.append("  ", toggle, "\n", hidden);
  }
  return pre;
}
