// The sidebar's list of conversations: grouped by day, titles told apart by their time,
// filtered by the search box, with rename and delete on each.

import { saveWithKey, url } from "./api.js";
import { actionButton, el, icon } from "./dom.js";

const DAY = 24 * 60 * 60 * 1000;

/** "Today", "Yesterday", "Previous 7 days", "Previous 30 days" or the month and year. */
export function dayGroup(date, now = new Date()) {
  const startOfToday = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
  const time = date.getTime();
  if (time >= startOfToday) return "Today";
  if (time >= startOfToday - DAY) return "Yesterday";
  if (time >= startOfToday - 7 * DAY) return "Previous 7 days";
  if (time >= startOfToday - 30 * DAY) return "Previous 30 days";
  return date.toLocaleDateString(undefined, { month: "long", year: "numeric" });
}

function when(date, now = new Date(), seconds = false) {
  const sameDay = date.toDateString() === now.toDateString();
  const clock = { hour: "numeric", minute: "2-digit", ...(seconds ? { second: "2-digit" } : {}) };
  const time = date.toLocaleTimeString(undefined, clock);
  return sameDay ? time : `${date.toLocaleDateString(undefined, { day: "numeric", month: "short" })} ${time}`;
}

/** What tells each conversation apart: its title, and its time when another has the same title
 *  (to the second when they were started in the same minute). */
export function distinctTitles(conversations) {
  const count = (keys) => keys.reduce((seen, key) => seen.set(key, (seen.get(key) || 0) + 1), new Map());
  const titles = count(conversations.map(titleOf));
  const dated = conversations.map((c) => {
    const time = c.created_at || c.updated_at;
    const shared = titles.get(titleOf(c)) > 1 && time;
    return { c, date: shared ? new Date(time) : null };
  });
  const minutes = count(dated.map(({ c, date }) => (date ? `${titleOf(c)} · ${when(date)}` : "")));
  return new Map(
    dated.map(({ c, date }) => {
      const sameMinute = date && minutes.get(`${titleOf(c)} · ${when(date)}`) > 1;
      return [c.id, { title: titleOf(c), when: date ? when(date, new Date(), sameMinute) : "" }];
    }),
  );
}

export function titleOf(conversation) {
  return conversation.title || "Untitled conversation";
}

export class ConversationList {
  /** nav: the list's element; handlers: open(id), rename(id, title), remove(id, title). */
  constructor({ nav, empty, handlers }) {
    Object.assign(this, { nav, empty, handlers });
    this.conversations = [];
    this.running = new Set();
    this.current = "";
    this.query = "";
  }

  /** `running`: conversation id -> first message, for answers still being written (a new
   *  conversation is stored only once its first answer is). */
  show(conversations, current, running = new Map()) {
    const now = new Date().toISOString();
    const unsaved = [...running].filter(([id]) => !conversations.some((c) => c.id === id));
    this.conversations = [...unsaved.map(([id, text]) => ({ id, title: text.slice(0, 60), updated_at: now })), ...conversations];
    this.running = new Set(running.keys());
    this.current = current;
    this.draw();
  }

  filter(query) {
    this.query = query.trim().toLowerCase();
    this.draw();
  }

  draw() {
    const titles = distinctTitles(this.conversations);
    const label = (c) => `${titles.get(c.id).title} ${titles.get(c.id).when}`.toLowerCase();
    const shown = this.conversations.filter((c) => !this.query || label(c).includes(this.query));
    const groups = new Map();
    for (const c of shown) {
      const group = dayGroup(new Date(c.updated_at || Date.now()));
      if (!groups.has(group)) groups.set(group, []);
      groups.get(group).push(c);
    }
    this.nav.replaceChildren(
      ...[...groups].map(([group, items]) =>
        el("section", { class: "group" }, el("h2", {}, group), el("ul", {}, ...items.map((c) => this.item(c, titles.get(c.id))))),
      ),
    );
    this.empty.hidden = !(this.query && shown.length === 0);
  }

  item(conversation, { title, when }) {
    const open = el(
      "button",
      { type: "button", class: "open", title: when ? `${title} · ${when}` : title, "aria-current": conversation.id === this.current ? "page" : null },
      el("span", { class: "title" }, title),
      when ? el("span", { class: "when" }, `· ${when}`) : null,
    );
    open.addEventListener("click", () => this.handlers.open(conversation.id));
    const plain = titleOf(conversation);
    return el(
      "li",
      { class: this.running.has(conversation.id) ? "running" : null, title: this.running.has(conversation.id) ? "An answer is being written" : null },
      open,
      el(
        "span",
        { class: "item-actions" },
        this.notebookLink(conversation, plain),
        actionButton("pencil", `Rename “${plain}”`, () => this.rename(conversation, open)),
        actionButton("trash", `Delete “${plain}”`, () => this.handlers.remove(conversation.id, plain)),
      ),
    );
  }

  /** The conversation as a Jupyter notebook (GET /conversations/{id}/notebook). */
  notebookLink(conversation, plain) {
    const path = `/conversations/${encodeURIComponent(conversation.id)}/notebook`;
    const name = `conversation-${conversation.id}.ipynb`;
    const label = `Download “${plain}” as a notebook`;
    const link = el("a", { class: "action notebook", href: url(path), download: name, title: label, "aria-label": label }, icon("download"));
    link.addEventListener("click", (event) => saveWithKey(event, path, name).catch((err) => this.handlers.failed?.("Download failed.", err)));
    return link;
  }

  /** Edit the title in place: Enter saves, Escape or leaving the field cancels. */
  rename(conversation, button) {
    const input = el("input", { class: "rename", "aria-label": "New title", maxlength: 60 });
    input.value = titleOf(conversation);
    let done = false;
    const finish = async (save) => {
      if (done) return;
      done = true;
      const title = input.value.trim();
      input.replaceWith(button);
      if (save && title && title !== conversation.title) await this.handlers.rename(conversation.id, title);
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") finish(true);
      if (event.key === "Escape") {
        event.stopPropagation();
        finish(false);
      }
    });
    input.addEventListener("blur", () => finish(true));
    button.replaceWith(input);
    input.focus();
    input.select();
  }
}
