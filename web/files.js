// The conversation's files: the list with download links, and uploads into the session.

import { apiKey, getJSON, request, url } from "./api.js";
import { el } from "./render.js";

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
  }

  path(name = "") {
    const base = `/conversations/${encodeURIComponent(this.conversation())}/files`;
    return name ? `${base}/${encodeURIComponent(name)}` : base;
  }

  async refresh() {
    const id = this.conversation();
    let files = [];
    let problem = "";
    try {
      files = (await getJSON(this.path())).files || [];
    } catch (err) {
      if (err.status !== 404) problem = `Could not list the files: ${err.message}`;
    }
    if (id !== this.conversation()) return;
    if (problem || this.status.dataset.problem) this.status.textContent = problem;
    this.status.dataset.problem = problem;
    this.list.replaceChildren(...files.map((file) => this.item(file)));
  }

  item(file) {
    const link = el(
      "a",
      { href: url(this.path(file.name)), download: file.name, "aria-label": `Download ${file.name}` },
      file.name,
    );
    link.addEventListener("click", (event) => this.downloadWithKey(event, file.name));
    return el("li", {}, link, el("small", {}, ` ${formatSize(file.size)}`));
  }

  // A plain link cannot carry the bearer key; with a key set, fetch the file and save the blob.
  async downloadWithKey(event, name) {
    if (!apiKey()) return;
    event.preventDefault();
    try {
      const blob = await (await request(this.path(name))).blob();
      const href = URL.createObjectURL(blob);
      const link = el("a", { href, download: name });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(href), 10_000);
    } catch (err) {
      this.alert("Download failed.", err);
    }
  }

  async upload(file) {
    const form = new FormData();
    form.append("file", file, file.name);
    this.status.textContent = `Uploading ${file.name}…`;
    try {
      const saved = await (await request(this.path(), { method: "POST", body: form })).json();
      this.status.textContent = `Uploaded ${saved.name || file.name} (${formatSize(saved.size)}).`;
    } catch (err) {
      this.status.textContent = "";
      this.alert(`Upload of ${file.name} failed.`, err);
    }
    await this.refresh();
  }
}
