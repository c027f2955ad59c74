// The notes list, virtualised: rows have a fixed height and only the ones in
// view (plus a margin) exist in the DOM, so 10,000 notes cost the same to
// scroll and re-filter as 50.

import type { NoteSummary } from "./api";
import { fillHighlighted, termsPattern } from "./highlight";

const ROW_HEIGHT = 68;
const OVERSCAN = 6;

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });

function formatDate(ms: number): string {
  const d = new Date(ms);
  const today = new Date();
  return d.toDateString() === today.toDateString() ? timeFormat.format(d) : dateFormat.format(d);
}

export class NotesList {
  private items: NoteSummary[] = [];
  private selectedId: string | null = null;
  private readonly spacer: HTMLDivElement;
  private readonly rows = new Map<number, HTMLDivElement>();
  private frame = 0;
  /** The notebook path shown on each row (search results), when set. */
  private pathOf: ((id: string) => string | null) | null = null;
  /** The search's words, marked in titles and passages. */
  private pattern: RegExp | null = null;

  constructor(
    private readonly root: HTMLElement,
    private readonly onOpen: (id: string) => void,
  ) {
    this.spacer = document.createElement("div");
    this.spacer.className = "list-spacer";
    root.append(this.spacer);
    root.addEventListener("scroll", () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.schedule()).observe(root);
    root.addEventListener("click", (e) => {
      const row = (e.target as HTMLElement).closest<HTMLElement>(".note-row");
      if (row?.dataset.id) this.onOpen(row.dataset.id);
    });
    root.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        this.step(e.key === "ArrowDown" ? 1 : -1);
      } else if (e.key === "Enter" && this.selectedId) {
        this.onOpen(this.selectedId);
      }
    });
  }

  get length(): number {
    return this.items.length;
  }

  get ids(): string[] {
    return this.items.map((n) => n.id);
  }

  /** Replaces the content; rendering is synchronous so callers can time it. */
  set(items: NoteSummary[]): void {
    this.items = items;
    this.spacer.style.height = `${items.length * ROW_HEIGHT}px`;
    // A row that still shows the same note keeps its element and gets new
    // contents: an element replaced under the pointer loses the click (a
    // user's, or a test's that found it a moment before).
    for (const [i, row] of this.rows) {
      const n = items[i];
      if (n && n.id === row.dataset.id) {
        // Rows the change left as they were keep their contents: while a
        // note is typed into, only its own row is drawn again.
        if (row.dataset.drawn === this.drawnKey(n, i)) continue;
        const fresh = this.renderRow(n, i);
        row.dataset.drawn = fresh.dataset.drawn;
        row.className = fresh.className;
        this.markSelected(row);
        if (fresh.dataset.pinned) row.dataset.pinned = fresh.dataset.pinned;
        else delete row.dataset.pinned;
        row.replaceChildren(...fresh.childNodes);
      } else {
        row.remove();
        this.rows.delete(i);
      }
    }
    this.render();
  }

  /** Marks these words in the rows drawn from now on (none: no marks). */
  setTerms(terms: string[]): void {
    this.pattern = termsPattern(terms);
  }

  /** Rows show their notebook's path (null: they do not). */
  setPaths(pathOf: ((id: string) => string | null) | null): void {
    this.pathOf = pathOf;
  }

  /** Draws the rows in view again (their paths became known). */
  refreshRows(): void {
    this.set(this.items);
  }

  select(id: string | null, scroll = true): void {
    this.selectedId = id;
    for (const row of this.rows.values()) this.markSelected(row);
    this.root.removeAttribute("aria-activedescendant");
    if (!scroll || id === null) return;
    const i = this.items.findIndex((n) => n.id === id);
    if (i < 0) return;
    const top = i * ROW_HEIGHT;
    if (top < this.root.scrollTop) this.root.scrollTop = top;
    else if (top + ROW_HEIGHT > this.root.scrollTop + this.root.clientHeight)
      this.root.scrollTop = top + ROW_HEIGHT - this.root.clientHeight;
    this.render();
    // Screen readers follow the selection while the list keeps the focus.
    if ([...this.rows.values()].some((r) => r.dataset.id === id)) this.root.setAttribute("aria-activedescendant", rowId(id));
  }

  private markSelected(row: HTMLElement): void {
    const on = row.dataset.id === this.selectedId;
    row.classList.toggle("selected", on);
    row.setAttribute("aria-selected", String(on));
  }

  /** Opens the first note in the list (Down or Enter in the search box). */
  openFirst(): void {
    if (this.items.length > 0) this.onOpen(this.items[0].id);
  }

  /** Moves the selection and opens the note there. */
  step(delta: number): void {
    if (this.items.length === 0) return;
    const i = this.items.findIndex((n) => n.id === this.selectedId);
    const next = Math.max(0, Math.min(this.items.length - 1, (i < 0 ? -1 : i) + delta));
    this.onOpen(this.items[next].id);
  }

  /** The id next to `id`, used to open a neighbour when a note leaves the list. */
  neighbour(id: string): string | null {
    const i = this.items.findIndex((n) => n.id === id);
    if (i < 0) return null;
    return this.items[i + 1]?.id ?? this.items[i - 1]?.id ?? null;
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private render(): void {
    const height = this.root.clientHeight || 800;
    const first = Math.max(0, Math.floor(this.root.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.items.length, Math.ceil((this.root.scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
    for (const [i, row] of this.rows) {
      if (i < first || i >= last) {
        row.remove();
        this.rows.delete(i);
      }
    }
    for (let i = first; i < last; i++) {
      if (!this.rows.has(i)) {
        const row = this.renderRow(this.items[i], i);
        this.rows.set(i, row);
        this.root.append(row);
      }
    }
  }

  /** What a row shows, as a string: equal strings draw equal rows. */
  private drawnKey(n: NoteSummary, i: number): string {
    return JSON.stringify([n, i, n.id === this.selectedId, this.pathOf?.(n.id) ?? null]);
  }

  private renderRow(n: NoteSummary, i: number): HTMLDivElement {
    const row = document.createElement("div");
    row.dataset.drawn = this.drawnKey(n, i);
    row.className = "note-row";
    row.setAttribute("role", "option");
    row.dataset.id = n.id;
    row.id = rowId(n.id);
    row.dataset.testid = "note-row";
    row.style.transform = `translateY(${i * ROW_HEIGHT}px)`;
    if (n.id === this.selectedId) row.classList.add("selected");
    row.setAttribute("aria-selected", String(n.id === this.selectedId));
    const title = document.createElement("div");
    title.className = "note-title";
    fillHighlighted(title, n.title || "Untitled", this.pattern);
    if (n.pinned) {
      row.dataset.pinned = "true";
      const mark = document.createElement("span");
      mark.className = "pin-mark";
      mark.title = "Pinned";
      // A glyph every system font has; emoji fonts are not a given on Linux.
      mark.textContent = "★";
      title.prepend(mark);
    }
    const date = document.createElement("span");
    date.className = "note-date";
    date.textContent = formatDate(n.modified_ms);
    const head = document.createElement("div");
    head.className = "note-head";
    head.append(title, date);
    const excerpt = document.createElement("div");
    excerpt.className = "note-excerpt";
    fillHighlighted(excerpt, n.excerpt, this.pattern);
    const tags = document.createElement("div");
    tags.className = "note-tags";
    const path = this.pathOf?.(n.id);
    if (path) {
      const p = document.createElement("span");
      p.className = "note-path";
      p.dataset.testid = "note-path";
      p.textContent = path;
      tags.append(p);
    }
    tags.append(n.tags.map((t) => `#${t}`).join(" "));
    row.append(head, excerpt, tags);
    return row;
  }
}

function rowId(noteId: string): string {
  return `note-row-${noteId}`;
}
