// The message box: it grows with its text, counts characters against the service's limit,
// and says in plain words why a message cannot be sent, keeping the text.

const WARN_FROM = 0.8; // show the counter from 80 % of the limit

export class Composer {
  constructor({ form, box, counter, problem, send, stop }) {
    Object.assign(this, { form, box, counter, problem, send, stop });
    this.limit = Infinity;
    box.addEventListener("input", () => this.update());
  }

  get text() {
    return this.box.value.trim();
  }

  setLimit(limit) {
    this.limit = limit || Infinity;
    this.update();
  }

  /** The text if it can be sent; otherwise says why and returns "". */
  take() {
    const text = this.text;
    if (!text) return "";
    if (text.length > this.limit) {
      this.say(tooLong(text.length, this.limit));
      this.box.focus();
      return "";
    }
    this.box.value = "";
    this.update();
    return text;
  }

  /** Put a message back (the service refused it) with the reason. */
  restore(text, reason) {
    if (!this.box.value.trim()) this.box.value = text;
    this.update();
    this.say(reason);
    this.box.focus();
  }

  say(reason) {
    this.problem.textContent = reason || "";
    this.problem.hidden = !reason;
  }

  setBusy(busy) {
    this.send.hidden = busy;
    this.stop.hidden = !busy;
    this.form.classList.toggle("busy", busy);
  }

  update() {
    const box = this.box;
    box.style.height = "auto";
    box.style.height = `${Math.min(box.scrollHeight, 240)}px`;
    const length = box.value.trim().length;
    const over = length > this.limit;
    const shown = Number.isFinite(this.limit) && length >= this.limit * WARN_FROM;
    this.counter.textContent = shown ? `${fmt(length)} / ${fmt(this.limit)}` : "";
    this.counter.classList.toggle("over", over);
    this.send.setAttribute("aria-disabled", String(over || !length));
    this.say(over ? tooLong(length, this.limit) : "");
  }
}

function fmt(n) {
  return n.toLocaleString("en");
}

function tooLong(length, limit) {
  return (
    `This message is ${fmt(length - limit)} characters over the limit of ${fmt(limit)} ` +
    "(MAX_MESSAGE_CHARS). Shorten it, or upload the text as a file and ask about the file."
  );
}
