// Import… and Export… from the sidebar: the system's folder dialog, a
// progress bar fed by the shell's transfer-progress events, then what
// happened, in sentences, with what was not imported listed and why.

import { api, events, type ExportProgress, type ImportProgress, type ImportReport } from "./api";
import { byId } from "./dom";

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

export class Transfer {
  private readonly dialog = byId<HTMLDialogElement>("transfer");
  private readonly bar = byId<HTMLProgressElement>("transfer-bar");
  private readonly status = byId("transfer-status");
  private readonly details = byId("transfer-details");
  private busy = false;

  constructor(
    /** The store changed a lot: the app reads its views again. */
    private readonly changed: () => void,
    private readonly onError: (e: unknown) => void,
  ) {
    byId("transfer-close").addEventListener("click", () => this.dialog.close());
    void events.transferProgress((p) => this.progress(p));
  }

  private progress(p: ImportProgress | ExportProgress): void {
    if (!this.busy) return;
    if ("step" in p) {
      if (p.step === "reading") {
        this.bar.removeAttribute("value");
        this.status.textContent = `Reading the folder: ${plural(p.files, "note", "notes")} so far…`;
      } else {
        this.status.textContent = `Writing ${plural(p.notes, "note", "notes")}…`;
      }
    } else {
      this.bar.max = Math.max(1, p.total);
      this.bar.value = p.done;
      this.status.textContent = `Exported ${p.done} of ${plural(p.total, "note", "notes")}…`;
    }
  }

  private begin(title: string): void {
    this.busy = true;
    byId("transfer-title").textContent = title;
    this.status.textContent = "Starting…";
    this.details.replaceChildren();
    this.bar.hidden = false;
    this.bar.removeAttribute("value");
    byId("transfer-close").hidden = true;
    this.dialog.dataset.state = "running";
    this.dialog.showModal();
  }

  private end(sentence: string, state: "done" | "failed"): void {
    this.busy = false;
    this.status.textContent = sentence;
    this.bar.hidden = true;
    byId("transfer-close").hidden = false;
    this.dialog.dataset.state = state;
  }

  /** The folder the user picks; null when cancelled (or the dialog failed, said). */
  private async pick(title: string): Promise<string | null> {
    if (this.busy) return null;
    try {
      return await api.pickFolder(title);
    } catch (e) {
      this.onError(e);
      return null;
    }
  }

  async importFolder(): Promise<void> {
    const dir = await this.pick("Import a folder of Markdown notes");
    if (!dir) return;
    this.begin("Import");
    try {
      const r = await api.importFolder(dir);
      this.end(
        `Imported ${plural(r.notes, "note", "notes")} into ${plural(r.notebooks, "notebook", "notebooks")}, with ${plural(r.links, "link", "links")}.`,
        "done",
      );
      this.report(r);
    } catch (e) {
      this.end(e instanceof Error ? e.message : String(e), "failed");
    }
    this.changed();
  }

  async exportAll(): Promise<void> {
    const dir = await this.pick("Export every note to a folder");
    if (!dir) return;
    this.begin("Export");
    try {
      const r = await api.exportFolder(dir);
      this.end(
        `Exported ${plural(r.notes, "note", "notes")} in ${plural(r.notebooks, "notebook", "notebooks")} to ${dir}.`,
        "done",
      );
    } catch (e) {
      this.end(e instanceof Error ? e.message : String(e), "failed");
    }
  }

  private report(r: ImportReport): void {
    const parts: HTMLElement[] = [];
    if (r.unresolved > 0) {
      const p = document.createElement("p");
      p.textContent = `${plural(r.unresolved, "link names", "links name")} no note of the folder; they are kept and make the note when followed.`;
      parts.push(p);
    }
    const list = (title: string, items: ImportReport["skipped"], total: number) => {
      if (total === 0) return;
      const d = document.createElement("details");
      d.open = true;
      const s = document.createElement("summary");
      s.textContent = `${title} (${total})`;
      const ul = document.createElement("ul");
      for (const it of items) {
        const li = document.createElement("li");
        const path = document.createElement("code");
        path.textContent = it.path;
        li.append(path, `: ${it.reason}`);
        ul.append(li);
      }
      if (total > items.length) {
        const li = document.createElement("li");
        li.textContent = `… and ${total - items.length} more`;
        ul.append(li);
      }
      d.append(s, ul);
      parts.push(d);
    };
    list("Not imported", r.skipped, r.skipped_total);
    list("Imported with changes", r.warnings, r.warnings_total);
    this.details.replaceChildren(...parts);
  }
}
