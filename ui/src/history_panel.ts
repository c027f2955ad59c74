// A note's history: a slider over its editing sessions (a pause, or a
// change from another device, starts a new one), a read-only preview of the
// note as a session left it with what changed since highlighted, and a
// button that restores it as a new change. Ctrl+Z right after a restore
// undoes it (the restore is a change like any other: undoing it restores
// the version that was current).

import { api, type CairnError, type DiffRun, type EditSession } from "./api";
import { byId } from "./dom";

const timeFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

export class HistoryPanel {
  private readonly panel = byId("history-panel");
  private readonly slider = byId<HTMLInputElement>("history-slider");
  private readonly label = byId("history-label");
  private readonly preview = byId("history-preview");
  private readonly restoreBtn = byId<HTMLButtonElement>("history-restore");
  /** A viewer's note: its versions are shown, never restored. */
  private readOnly = false;

  setReadOnly(readOnly: boolean): void {
    this.readOnly = readOnly;
    if (readOnly) this.restoreBtn.disabled = true;
  }
  private sessions: EditSession[] = [];
  /** Device names by id, from the account's device list once it answers. */
  private deviceNames = new Map<string, string>();
  private noteId: string | null = null;
  /** Only the newest preview request may write to the preview. */
  private requestSeq = 0;
  /** The last restore, until the note is edited: what Ctrl+Z goes back to. */
  private lastRestore: { id: string; version: string } | null = null;

  constructor(
    private readonly onRestored: (id: string) => void,
    private readonly onClose: () => void,
    private readonly onError: (e: CairnError) => void,
  ) {
    this.slider.addEventListener("input", () => void this.show(Number(this.slider.value)));
    this.restoreBtn.addEventListener("click", () => void this.restore());
    byId("history-close").addEventListener("click", () => this.close());
  }

  get isOpen(): boolean {
    return !this.panel.hidden;
  }

  async open(id: string): Promise<void> {
    try {
      this.sessions = await api.history(id);
    } catch (e) {
      this.onError(e as CairnError);
      return;
    }
    this.noteId = id;
    this.panel.hidden = false;
    byId("history-toggle").setAttribute("aria-pressed", "true");
    this.slider.max = String(Math.max(0, this.sessions.length - 1));
    this.slider.value = this.slider.max;
    this.slider.focus();
    void this.learnDeviceNames();
    await this.show(this.sessions.length - 1);
  }

  /** Names the devices sessions came from. Offline or signed out, the
   * sessions keep saying "another device"; the panel never waits on it. */
  private async learnDeviceNames(): Promise<void> {
    const unknown = (s: EditSession) =>
      !s.local && s.device_id !== null && !this.deviceNames.has(s.device_id);
    if (!this.sessions.some(unknown)) return;
    try {
      for (const d of await api.devices()) this.deviceNames.set(d.id, d.name);
    } catch {
      return;
    }
    if (this.isOpen) {
      this.label.textContent = this.describe(Number(this.slider.value));
      this.slider.setAttribute("aria-valuetext", this.label.textContent);
    }
  }

  close(): void {
    if (this.panel.hidden) return;
    this.panel.hidden = true;
    byId("history-toggle").setAttribute("aria-pressed", "false");
    this.noteId = null;
    this.onClose();
  }

  /** Moves the slider by `delta` sessions (keyboard and tests). */
  async step(delta: number): Promise<void> {
    const i = Math.max(0, Math.min(this.sessions.length - 1, Number(this.slider.value) + delta));
    this.slider.value = String(i);
    await this.show(i);
  }

  /** Whether Ctrl+Z on note `id` should undo a restore rather than typing. */
  canUndoRestore(id: string | null): boolean {
    return id !== null && this.lastRestore?.id === id;
  }

  /** The note was edited: Ctrl+Z is the editor's again. */
  forgetRestore(): void {
    this.lastRestore = null;
  }

  async undoRestore(): Promise<void> {
    const undo = this.lastRestore;
    if (!undo) return;
    this.lastRestore = null;
    try {
      await api.restoreVersion(undo.id, undo.version);
    } catch (e) {
      this.onError(e as CairnError);
      return;
    }
    this.onRestored(undo.id);
  }

  private describe(i: number): string {
    const s = this.sessions[i];
    const latest = i === this.sessions.length - 1;
    const named = s.device_id === null ? undefined : this.deviceNames.get(s.device_id);
    const who = s.local ? "this device" : (named ?? "another device");
    const what = plural(s.changes, "change", "changes");
    return `${timeFormat.format(new Date(s.end_ms))} · ${who} · ${what}${latest ? " · current" : ""}`;
  }

  private async show(i: number): Promise<void> {
    const s = this.sessions[i];
    const id = this.noteId;
    if (!s || id === null) return;
    const seq = ++this.requestSeq;
    const latest = i === this.sessions.length - 1;
    this.label.textContent = this.describe(i);
    // What a screen reader says for the slider: the session, not a number.
    this.slider.setAttribute("aria-valuetext", this.label.textContent);
    this.label.title = `Session ${i + 1} of ${this.sessions.length}`;
    this.panel.dataset.local = String(s.local);
    this.restoreBtn.disabled = latest || this.readOnly;
    this.panel.dataset.version = String(i);
    try {
      const runs = await api.compare(id, s.version);
      if (seq === this.requestSeq) this.render(runs);
    } catch (e) {
      this.onError(e as CairnError);
    }
  }

  /** The past text, with what is gone since struck and what came since marked. */
  private render(runs: DiffRun[]): void {
    const parts = runs.map((r) => {
      if (r.kind === "same") return document.createTextNode(r.text);
      const el = document.createElement(r.kind === "removed" ? "del" : "ins");
      el.textContent = r.text;
      el.title = r.kind === "removed" ? "Not in the note now" : "Added since";
      return el;
    });
    this.preview.replaceChildren(...parts);
    this.preview.dataset.changed = String(runs.some((r) => r.kind !== "same"));
  }

  private async restore(): Promise<void> {
    const id = this.noteId;
    const s = this.sessions[Number(this.slider.value)];
    const current = this.sessions[this.sessions.length - 1];
    if (id === null || !s || !current) return;
    try {
      await api.restoreVersion(id, s.version);
    } catch (e) {
      this.onError(e as CairnError);
      return;
    }
    this.lastRestore = { id, version: current.version };
    this.close();
    this.onRestored(id);
  }
}
