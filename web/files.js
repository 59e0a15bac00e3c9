// The conversation's files as chips above the message box: download, remove, upload.

import { getJSON, request, saveWithKey, url } from "./api.js";
import { el, icon } from "./dom.js";

const STATUS_SECONDS = 4;
const NOT_KEPT = "Not kept by the service: over the conversation's file quota, it is gone when the code session ends.";

function formatSize(bytes) {
  if (!Number.isFinite(bytes)) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export class FileShelf {
  /** list: the <ul>; status: a live text element; conversation(): the current id; alert(msg, err). */
  constructor({ list, status, conversation, alert }) {
    Object.assign(this, { list, status, conversation, alert });
    this.timer = 0;
  }

  path(name = "") {
    const base = `/conversations/${encodeURIComponent(this.conversation())}/files`;
    return name ? `${base}/${encodeURIComponent(name)}` : base;
  }

  /** Show `text` for a few seconds (or until the next status). */
  say(text, seconds = STATUS_SECONDS) {
    clearTimeout(this.timer);
    this.status.textContent = text;
    if (text && seconds) this.timer = setTimeout(() => (this.status.textContent = ""), seconds * 1000);
  }

  clear() {
    this.say("");
    this.list.replaceChildren();
  }

  async refresh() {
    const id = this.conversation();
    let files = [];
    try {
      files = (await getJSON(this.path())).files || [];
    } catch (err) {
      if (err.status !== 404) this.say(`Could not list the files: ${err.message}`, 0);
    }
    if (id !== this.conversation()) return;
    this.list.replaceChildren(...files.map((file) => this.chip(file)));
  }

  chip(file) {
    const link = el(
      "a",
      { href: url(this.path(file.name)), download: file.name, "aria-label": `Download ${file.name}`, title: `Download ${file.name}` },
      icon("file"),
      el("span", { class: "file-name" }, file.name),
    );
    link.addEventListener("click", (event) => this.downloadWithKey(event, file.name));
    const remove = el("button", { type: "button", class: "remove", "aria-label": `Remove ${file.name}`, title: `Remove ${file.name} from the session` }, icon("close"));
    remove.addEventListener("click", () => this.remove(file.name));
    // A file over the conversation's quota lives only as long as its code session.
    const unkept = file.kept === false;
    const size = el("small", { title: unkept ? NOT_KEPT : null }, formatSize(file.size), unkept ? " · not kept" : "");
    return el("li", { class: unkept ? "file-chip unkept" : "file-chip" }, link, size, remove);
  }

  async downloadWithKey(event, name) {
    try {
      await saveWithKey(event, this.path(name), name);
    } catch (err) {
      this.alert("Download failed.", err);
    }
  }

  async remove(name) {
    try {
      await request(this.path(name), { method: "DELETE" });
      this.say(`Removed ${name}.`);
    } catch (err) {
      this.alert(`Could not remove ${name}.`, err);
    }
    await this.refresh();
  }

  async upload(file) {
    const form = new FormData();
    form.append("file", file, file.name);
    this.say(`Uploading ${file.name}…`, 0);
    try {
      const saved = await (await request(this.path(), { method: "POST", body: form })).json();
      this.say(`Uploaded ${saved.name || file.name} (${formatSize(saved.size)}).`);
    } catch (err) {
      this.say("");
      this.alert(`Upload of ${file.name} failed.`, err);
    }
    await this.refresh();
  }
}
