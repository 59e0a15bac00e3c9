// Small DOM helpers the page's modules share. Text from the model or from code only ever goes
// in as text nodes here; markdown.js alone turns Markdown into (sanitised) markup.

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

/** An inline SVG icon from the page's small set (drawn with strokes in the text colour). */
export function icon(name) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  for (const d of ICONS[name]) {
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", d);
    svg.append(path);
  }
  return svg;
}

const ICONS = {
  copy: ["M9 9h10v10H9z", "M5 15H4V4h11v1"],
  check: ["M5 12l5 5 9-10"],
  download: ["M12 4v11", "M7 10l5 5 5-5", "M5 20h14"],
  expand: ["M14 4h6v6", "M10 20H4v-6", "M20 4l-7 7", "M4 20l7-7"],
  retry: ["M4 12a8 8 0 1 0 2.3-5.7", "M4 4v5h5"],
  edit: ["M4 20h4L19 9l-4-4L4 16z", "M14 6l4 4"],
  pencil: ["M4 20h4L19 9l-4-4L4 16z"],
  trash: ["M4 7h16", "M9 7V4h6v3", "M6 7l1 13h10l1-13"],
  close: ["M6 6l12 12", "M18 6 6 18"],
  file: ["M6 3h8l4 4v14H6z", "M14 3v4h4"],
};

/** Put `text` on the clipboard; also where the async Clipboard API is missing (plain HTTP). */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = el("textarea", { class: "visually-hidden", readonly: true });
  area.value = text;
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

/** A button that copies `getText()` and says so for a moment; `withText` false: the icon alone. */
export function copyButton(getText, label = "Copy", withText = true) {
  const face = (name, text) => [icon(name), withText ? el("span", {}, text) : null].filter(Boolean);
  const button = el("button", { type: "button", class: "action copy", title: label, "aria-label": label }, ...face("copy", "Copy"));
  button.addEventListener("click", async () => {
    try {
      await copyText(getText());
      button.replaceChildren(...face("check", "Copied"));
    } catch {
      button.replaceChildren(...face("close", "Copy failed"));
    }
    setTimeout(() => button.replaceChildren(...face("copy", "Copy")), 1500);
  });
  return button;
}

/** A small labelled button with an icon. */
export function actionButton(name, label, onClick, text = "") {
  const button = el("button", { type: "button", class: "action", title: label, "aria-label": label }, icon(name), text ? el("span", {}, text) : null);
  button.addEventListener("click", onClick);
  return button;
}
