// Markdown answers, safely: markdown-it with raw HTML off, formulas by KaTeX, code highlighted
// by highlight.js, and the result cleaned by DOMPurify before it reaches the page. The libraries
// are vendored (web/vendor/fetch.sh) and loaded once; until they are, text shows as plain text.

import { copyButton, el } from "./dom.js";

const VENDOR = new URL("./vendor/", import.meta.url);
const SCRIPTS = [
  "markdown-it-15.0.3/markdown-it.umd.min.js",
  "katex-0.19.1/katex.min.js",
  "markdown-it-texmath-1.0.0/texmath.js",
  "highlight.js-11.12.0/highlight.min.js",
  "dompurify-3.5.0/purify.min.js",
];
const STYLES = ["katex-0.19.1/katex.min.css"];
// What may survive sanitising: markdown-it's and KaTeX's markup (MathML included), no scripts,
// no event handlers, no forms; texmath wraps formulas in <eq> and <eqn>.
const PURIFY = {
  RETURN_DOM_FRAGMENT: true,
  USE_PROFILES: { html: true, mathMl: true, svg: true },
  ADD_TAGS: ["eq", "eqn"],
  ADD_ATTR: ["target"],
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select"],
};
// An HTML table printed by code (a DataFrame, say): its table and nothing else.
const TABLE_ONLY = {
  RETURN_DOM_FRAGMENT: true,
  ALLOWED_TAGS: ["table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "div", "span", "b", "i", "strong", "em", "code", "br"],
  ALLOWED_ATTR: ["colspan", "rowspan", "class"],
  ALLOW_DATA_ATTR: false,
};
// KaTeX positions glyphs with style attributes (and markdown-it aligns table cells with them),
// which the page's policy (style-src 'self') refuses wherever markup is parsed, DOMPurify's
// inert document included. Styles set through the CSSOM are allowed: before parsing, each
// style attribute is renamed data-css, and the Markdown's are then applied through the CSSOM.
// Code's own HTML loses its styles, event handlers and style sheets the same way, before
// DOMPurify removes them, so that the policy has nothing to refuse (and report).
const STYLE_ATTRIBUTE = /(<[a-z][^<>]*?\s)style(\s*=)/gi;
const HANDLER_ATTRIBUTE = /(<[a-z][^<>]*?\s)on([a-z]+\s*=)/gi;
const STYLE_SHEET = /<style[\s>][\s\S]*?<\/style\s*>/gi;

function withoutInlineCode(html) {
  let previous;
  do {
    previous = html;
    html = html.replace(STYLE_ATTRIBUTE, "$1data-css$2").replace(HANDLER_ATTRIBUTE, "$1data-on$2");
  } while (html !== previous); // a tag with several such attributes
  return html.replace(STYLE_SHEET, "");
}

// Code blocks without a language are guessed among the languages answers usually hold.
const GUESSES = ["python", "bash", "json", "sql", "javascript", "yaml", "plaintext"];

let md = null;

/** Resolves once the libraries are loaded; rejects (and text stays plain) if one is missing. */
export const markdownReady = load();

function load() {
  for (const href of STYLES) document.head.append(el("link", { rel: "stylesheet", href: new URL(href, VENDOR) }));
  const scripts = SCRIPTS.map(
    (src) =>
      new Promise((resolve, reject) => {
        const script = el("script", { src: new URL(src, VENDOR) });
        script.async = false; // run in the listed order
        script.onload = resolve;
        script.onerror = () => reject(new Error(`could not load ${src}`));
        document.head.append(script);
      }),
  );
  return Promise.all(scripts).then(() => {
    md = build();
  });
}

function build() {
  const { markdownit, katex, texmath, hljs } = globalThis;
  const parser = markdownit({
    html: false, // raw HTML in an answer is shown as text, never run
    linkify: true,
    highlight: (code, lang) => {
      const language = hljs.getLanguage(lang) ? lang : "";
      return language ? hljs.highlight(code, { language, ignoreIllegals: true }).value : "";
    },
  });
  parser.use(texmath, {
    engine: katex,
    delimiters: ["dollars", "brackets"], // $…$, $$…$$, \(…\) and \[…\]
    katexOptions: { throwOnError: false, trust: false, output: "htmlAndMathml" },
  });
  const defaultLink = parser.renderer.rules.link_open || ((tokens, i, options, env, self) => self.renderToken(tokens, i, options));
  parser.renderer.rules.link_open = (tokens, i, options, env, self) => {
    tokens[i].attrSet("target", "_blank");
    tokens[i].attrSet("rel", "noopener noreferrer");
    return defaultLink(tokens, i, options, env, self);
  };
  // Pictures from elsewhere would leave the service (and the policy blocks them): a link instead.
  const defaultImage = parser.renderer.rules.image;
  parser.renderer.rules.image = (tokens, i, options, env, self) => {
    const token = tokens[i];
    const src = token.attrGet("src") || "";
    if (src.startsWith("data:image/")) return defaultImage(tokens, i, options, env, self);
    const label = self.renderInlineAsText(token.children || [], options, env) || src;
    return `<a href="${parser.utils.escapeHtml(src)}" target="_blank" rel="noopener noreferrer">${parser.utils.escapeHtml(label)}</a>`;
  };
  return parser;
}

/** Draw `text` as Markdown into `container` (or as plain text while the libraries load). */
export function renderMarkdown(container, text) {
  if (!md) {
    container.replaceChildren(el("p", { class: "plain" }, String(text || "")));
    return;
  }
  container.replaceChildren(safeFragment(md.render(String(text || ""))));
  decorate(container);
}

/** Highlighted code as a block with its language and a copy button. */
export function codeBlock(code, language = "python") {
  const codeEl = el("code", { class: `hljs language-${language}` });
  if (md && globalThis.hljs.getLanguage(language)) {
    codeEl.append(safeFragment(globalThis.hljs.highlight(code, { language, ignoreIllegals: true }).value));
  } else {
    codeEl.textContent = code;
  }
  return framed(el("pre", {}, codeEl), language, code);
}

/** A table from code's HTML output, sanitised down to the table. */
export function htmlTable(html) {
  if (!md) return el("pre", {}, html);
  const fragment = globalThis.DOMPurify.sanitize(withoutInlineCode(html), TABLE_ONLY);
  return el("div", { class: "table-wrap html-result" }, document.adoptNode(fragment));
}

function safeFragment(html) {
  const fragment = globalThis.DOMPurify.sanitize(withoutInlineCode(html), PURIFY);
  document.adoptNode(fragment);
  for (const node of fragment.querySelectorAll("[data-css]")) {
    node.style.cssText = node.dataset.css;
    delete node.dataset.css;
  }
  return fragment;
}

function decorate(container) {
  for (const pre of container.querySelectorAll(":scope pre")) {
    if (pre.parentElement.classList.contains("code-block")) continue;
    const code = pre.querySelector("code");
    const language = (code?.className.match(/language-([\w+-]+)/) || [])[1] || guess(code);
    code?.classList.add("hljs");
    pre.replaceWith(framed(pre.cloneNode(true), language, code ? code.textContent : pre.textContent));
  }
  for (const table of container.querySelectorAll(":scope table")) {
    if (!table.parentElement.classList.contains("table-wrap")) table.replaceWith(el("div", { class: "table-wrap" }, table.cloneNode(true)));
  }
}

function guess(code) {
  if (!code || !md) return "";
  const found = globalThis.hljs.highlightAuto(code.textContent, GUESSES);
  if (found.relevance < 5) return "";
  code.innerHTML = "";
  code.append(safeFragment(found.value));
  return found.language;
}

function framed(pre, language, text) {
  return el(
    "div",
    { class: "code-block" },
    el("div", { class: "code-head" }, el("span", { class: "code-lang" }, language || "text"), copyButton(() => text, "Copy code")),
    pre,
  );
}
