// A note's history: a slider over its versions, a read-only preview of the
// version under the slider, and a button that restores it as a new change.

import { api, type CairnError, type Version } from "./api";
import { byId } from "./dom";

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

export class HistoryPanel {
  private readonly panel = byId("history-panel");
  private readonly slider = byId<HTMLInputElement>("history-slider");
  private readonly label = byId("history-label");
  private readonly preview = byId("history-preview");
  private readonly restoreBtn = byId<HTMLButtonElement>("history-restore");
  private versions: Version[] = [];
  private noteId: string | null = null;
  /** Only the newest preview request may write to the preview. */
  private requestSeq = 0;

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
      this.versions = await api.history(id);
    } catch (e) {
      this.onError(e as CairnError);
      return;
    }
    this.noteId = id;
    this.panel.hidden = false;
    this.slider.max = String(Math.max(0, this.versions.length - 1));
    this.slider.value = this.slider.max;
    this.slider.focus();
    await this.show(this.versions.length - 1);
  }

  close(): void {
    if (this.panel.hidden) return;
    this.panel.hidden = true;
    this.noteId = null;
    this.onClose();
  }

  /** Moves the slider by `delta` versions (keyboard and tests). */
  async step(delta: number): Promise<void> {
    const i = Math.max(0, Math.min(this.versions.length - 1, Number(this.slider.value) + delta));
    this.slider.value = String(i);
    await this.show(i);
  }

  private async show(i: number): Promise<void> {
    const v = this.versions[i];
    const id = this.noteId;
    if (!v || id === null) return;
    const seq = ++this.requestSeq;
    const latest = i === this.versions.length - 1;
    this.label.textContent = `Version ${i + 1} of ${this.versions.length} · ${timeFormat.format(new Date(v.time_ms))}${latest ? " (current)" : ""}`;
    this.restoreBtn.disabled = latest;
    this.panel.dataset.version = String(i);
    try {
      const state = await api.noteAt(id, v.version);
      if (seq === this.requestSeq) this.preview.textContent = state.body;
    } catch (e) {
      this.onError(e as CairnError);
    }
  }

  private async restore(): Promise<void> {
    const id = this.noteId;
    const v = this.versions[Number(this.slider.value)];
    if (id === null || !v) return;
    try {
      await api.restoreVersion(id, v.version);
    } catch (e) {
      this.onError(e as CairnError);
      return;
    }
    this.close();
    this.onRestored(id);
  }
}
