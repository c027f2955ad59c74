// Ctrl/Cmd+P: jump to any note by typing part of its title, fuzzily
// (fuzzysort: letters in order, words and starts of words first). The
// titles are read from the store when the switcher opens; the newest
// notes come first while nothing is typed.

import { go, prepare, type Prepared } from "fuzzysort";
import { api, type NoteSummary } from "./api";
import { byId } from "./dom";

const SHOWN = 50;
/** fuzzysort scores run from 0 to 1 (the whole title). */
const MIN_SCORE = 0.05;

export class QuickSwitcher {
  private readonly dialog = byId<HTMLDialogElement>("switcher");
  private readonly input = byId<HTMLInputElement>("switcher-input");
  private readonly list = byId("switcher-list");
  private notes: { note: NoteSummary; prepared: Prepared }[] = [];
  private shown: NoteSummary[] = [];
  private active = 0;

  constructor(
    private readonly onOpen: (id: string) => void,
    private readonly pathOf: (noteId: string) => string,
    private readonly onError: (e: unknown) => void,
  ) {
    this.input.addEventListener("input", () => this.filter());
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        this.move(e.key === "ArrowDown" ? 1 : -1);
      } else if (e.key === "Enter") {
        e.preventDefault();
        this.choose(this.active);
      }
    });
    this.list.addEventListener("click", (e) => {
      const row = (e.target as HTMLElement).closest<HTMLElement>("[data-index]");
      if (row) this.choose(Number(row.dataset.index));
    });
    this.dialog.addEventListener("close", () => (this.input.value = ""));
  }

  get isOpen(): boolean {
    return this.dialog.open;
  }

  async open(): Promise<void> {
    if (this.dialog.open) {
      this.dialog.close();
      return;
    }
    this.input.value = "";
    this.list.replaceChildren();
    this.dialog.dataset.ready = "false";
    this.dialog.showModal();
    this.input.focus();
    try {
      const all = await api.listNotes(false, null);
      this.notes = all.map((note) => ({ note, prepared: prepare(note.title || "Untitled") }));
    } catch (e) {
      this.onError(e);
      this.notes = [];
    }
    this.filter();
    this.dialog.dataset.ready = "true";
  }

  private filter(): void {
    const q = this.input.value.trim();
    if (!q) {
      this.shown = this.notes.slice(0, SHOWN).map((n) => n.note);
    } else {
      // Letters in order count as a match even when spread out ("grcr"
      // finds Groceries); fuzzysort's default cut-off drops those.
      const found = go(q, this.notes, { key: "prepared", limit: SHOWN, threshold: MIN_SCORE });
      this.shown = found.map((r) => r.obj.note);
    }
    this.active = 0;
    this.render();
  }

  private render(): void {
    const rows = this.shown.map((n, i) => {
      const row = document.createElement("div");
      row.className = "switcher-row";
      row.dataset.index = String(i);
      row.dataset.id = n.id;
      row.dataset.testid = "switcher-row";
      row.setAttribute("role", "option");
      row.setAttribute("aria-selected", String(i === this.active));
      const title = document.createElement("span");
      title.className = "switcher-title";
      title.textContent = n.title || "Untitled";
      const path = document.createElement("span");
      path.className = "switcher-path";
      path.textContent = this.pathOf(n.id);
      row.append(title, path);
      return row;
    });
    if (rows.length === 0) {
      const empty = document.createElement("div");
      empty.className = "switcher-empty";
      empty.textContent = this.input.value.trim() ? "No note has a title like that." : "No notes yet.";
      rows.push(empty);
    }
    this.list.replaceChildren(...rows);
  }

  private move(delta: number): void {
    if (this.shown.length === 0) return;
    this.active = (this.active + delta + this.shown.length) % this.shown.length;
    for (const row of this.list.querySelectorAll<HTMLElement>("[data-index]")) {
      const on = Number(row.dataset.index) === this.active;
      row.setAttribute("aria-selected", String(on));
      if (on) row.scrollIntoView({ block: "nearest" });
    }
  }

  private choose(i: number): void {
    const n = this.shown[i];
    if (!n) return;
    this.dialog.close();
    this.onOpen(n.id);
  }
}
