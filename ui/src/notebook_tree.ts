// The sidebar's places: "All notes", "Unfiled", the notebook tree and
// "Trash", with note counts. A notebook's row expands and collapses (kept
// in the settings across restarts), takes notes and notebooks dropped on
// it, and has a context menu to create, rename, delete, share and leave.
// A shared notebook is marked, its members in the row's title. The tree is
// drawn again whole from the store's answer: it is small, and a redraw
// keeps no stale row.

import { api, type Notebook, type NotebookTree, type SharedNotebook } from "./api";
import { showMenu } from "./context_menu";
import { makeDraggable, type DragItem } from "./drag";

export type Place = { kind: "all" } | { kind: "unfiled" } | { kind: "trash" } | { kind: "notebook"; id: string };

export interface TreeHost {
  select(place: Place): void;
  moveNote(noteId: string, notebook: string | null): void;
  share(notebook: Notebook, shared: SharedNotebook | undefined): void;
  leave(notebook: Notebook): void;
  error(e: unknown): void;
}

const INDENT_PX = 14;

export function samePlace(a: Place, b: Place): boolean {
  return a.kind === b.kind && (a.kind !== "notebook" || (b.kind === "notebook" && a.id === b.id));
}

export class NotebookTreeView {
  private tree: NotebookTree = { notebooks: [], unfiled: 0, shared: [] };
  private byId = new Map<string, Notebook>();
  /** The shared notebooks (and those once shared with this account), by id. */
  private shared = new Map<string, SharedNotebook>();
  private collapsed = new Set<string>();
  private place: Place = { kind: "all" };
  /** A notebook whose name is being typed: "new:<parent>" or its id. */
  private editing: string | null = null;
  /** Its row, kept across redraws so what is typed there stays. */
  private editRow: HTMLElement | null = null;
  /** Each notebook's row element, kept across redraws: an element replaced
   * under the pointer loses the click or the drop aimed at it. */
  private rowEls = new Map<string, HTMLElement>();
  /** What the last redraw showed; the same again draws nothing. */
  private drawn = "";

  constructor(
    private readonly root: HTMLElement,
    private readonly host: TreeHost,
  ) {
    root.addEventListener("click", (e) => {
      const t = e.target as HTMLElement;
      const twisty = t.closest<HTMLElement>(".nb-twisty");
      const row = t.closest<HTMLElement>(".nb-row");
      if (twisty && row?.dataset.id) {
        this.toggle(row.dataset.id);
        return;
      }
      if (row?.dataset.id && !t.closest("input")) this.host.select({ kind: "notebook", id: row.dataset.id });
    });
    root.addEventListener("keydown", (e) => {
      const row = (e.target as HTMLElement).closest<HTMLElement>(".nb-row");
      const id = row?.dataset.id;
      if (!id || (e.target as HTMLElement).closest("input")) return;
      if (e.key === "Enter") this.host.select({ kind: "notebook", id });
      else if (e.key === "ArrowRight" && this.collapsed.has(id)) this.toggle(id);
      else if (e.key === "ArrowLeft" && !this.collapsed.has(id) && this.hasChildren(id)) this.toggle(id);
      else if (e.key === "F2") this.startRename(id);
      else return;
      e.preventDefault();
    });
    root.addEventListener("contextmenu", (e) => {
      e.preventDefault();
      const id = (e.target as HTMLElement).closest<HTMLElement>(".nb-row")?.dataset.id ?? null;
      this.menu(e.clientX, e.clientY, id);
    });
    makeDraggable(
      root,
      ".nb-row",
      (el) => {
        const nb = el.dataset.id ? this.byId.get(el.dataset.id) : undefined;
        return nb ? { kind: "notebook", id: nb.id, label: nb.name } : null;
      },
      (item, target) => void this.dropped(item, target),
    );
  }

  async start(): Promise<void> {
    try {
      this.collapsed = new Set(await api.collapsedNotebooks());
    } catch (e) {
      this.host.error(e);
    }
    await this.reload();
  }

  async reload(): Promise<void> {
    try {
      this.set(await api.notebooks());
    } catch (e) {
      this.host.error(e);
    }
  }

  get notebooks(): Notebook[] {
    return this.tree.notebooks;
  }

  /** A notebook's path (`Work/Projects`), or "" when there is no such notebook. */
  pathOf(id: string | null): string {
    return id ? (this.byId.get(id)?.path ?? "") : "";
  }

  /** `id` and every notebook under it. */
  subtree(id: string): Set<string> {
    const out = new Set([id]);
    // Tree order lists a notebook's descendants right after it.
    let inside = false;
    let depth = 0;
    for (const n of this.tree.notebooks) {
      if (n.id === id) {
        inside = true;
        depth = n.depth;
        continue;
      }
      if (!inside) continue;
      if (n.depth <= depth) break;
      out.add(n.id);
    }
    return out;
  }

  /** The share `id` is in: its own, or its nearest shared ancestor's. */
  sharedOf(id: string | null): SharedNotebook | undefined {
    for (let n = id ? this.byId.get(id) : undefined; n; n = n.parent ? this.byId.get(n.parent) : undefined) {
      const s = this.shared.get(n.id);
      if (s) return s;
    }
    return undefined;
  }

  /** The name of the notebook `share` shares. */
  sharedName(share: SharedNotebook): string {
    return this.byId.get(share.notebook)?.name ?? "the shared notebook";
  }

  exists(id: string): boolean {
    return this.byId.has(id);
  }

  setPlace(place: Place): void {
    this.place = place;
    if (place.kind === "notebook") this.reveal(place.id);
    this.render();
  }

  set(tree: NotebookTree): void {
    this.tree = tree;
    this.byId = new Map(tree.notebooks.map((n) => [n.id, n]));
    this.shared = new Map(tree.shared.map((s) => [s.notebook, s]));
    for (const id of this.rowEls.keys()) if (!this.byId.has(id)) this.rowEls.delete(id);
    this.render();
  }

  private hasChildren(id: string): boolean {
    return this.tree.notebooks.some((n) => n.parent === id);
  }

  private toggle(id: string): void {
    if (this.collapsed.has(id)) this.collapsed.delete(id);
    else this.collapsed.add(id);
    this.render();
    this.saveCollapsed();
  }

  /** Expands every notebook above `id`, so its row shows. */
  private reveal(id: string): void {
    let changed = false;
    for (let p = this.byId.get(id)?.parent; p; p = this.byId.get(p)?.parent) {
      if (this.collapsed.delete(p)) changed = true;
    }
    if (changed) this.saveCollapsed();
  }

  private saveCollapsed(): void {
    // Notebooks deleted since are forgotten.
    const ids = [...this.collapsed].filter((id) => this.byId.has(id));
    api.setCollapsedNotebooks(ids).catch((e) => this.host.error(e));
  }

  private visible(n: Notebook): boolean {
    for (let p = n.parent; p; p = this.byId.get(p)?.parent ?? null) {
      if (this.collapsed.has(p)) return false;
    }
    return true;
  }

  private render(): void {
    const key = JSON.stringify([this.tree, [...this.collapsed], this.place, this.editing]);
    if (key === this.drawn) return;
    this.drawn = key;
    const rows: HTMLElement[] = [];
    const placeholderFor = (parent: string | null, depth: number) => {
      if (this.editing === `new:${parent ?? ""}`) rows.push(this.editingRow(null, parent, depth));
    };
    placeholderFor(null, 0);
    for (const n of this.tree.notebooks) {
      if (!this.visible(n)) continue;
      rows.push(this.editing === n.id ? this.editingRow(n, n.parent, n.depth) : this.row(n));
      if (!this.collapsed.has(n.id)) placeholderFor(n.id, n.depth + 1);
    }
    const focused = document.activeElement?.closest?.(".nb-row") as HTMLElement | null;
    const focusedId = this.root.contains(focused) ? focused?.dataset.id : undefined;
    const edit = this.editRow;
    const at = edit ? rows.indexOf(edit) : -1;
    if (edit && at >= 0 && edit.parentNode === this.root) {
      // The name field stays where it is, so what is being typed there
      // (and the keyboard's focus) is not disturbed by the redraw.
      for (const c of [...this.root.children]) if (c !== edit) c.remove();
      edit.before(...rows.slice(0, at));
      edit.after(...rows.slice(at + 1));
    } else if (rows.length !== this.root.children.length || rows.some((r, i) => this.root.children[i] !== r)) {
      this.root.replaceChildren(...rows);
      edit?.querySelector("input")?.focus();
    }
    if (focusedId) this.root.querySelector<HTMLElement>(`.nb-row[data-id="${CSS.escape(focusedId)}"]`)?.focus();
    // The fixed places' counts and selection.
    const total = this.tree.unfiled + this.tree.notebooks.reduce((s, n) => s + n.notes, 0);
    setCount("view-notes", total);
    setCount("nav-unfiled", this.tree.unfiled);
    for (const [id, kind] of [
      ["view-notes", "all"],
      ["nav-unfiled", "unfiled"],
      ["view-trash", "trash"],
    ] as const) {
      // Buttons, not options: the place shown is the "current" one.
      const el = document.getElementById(id);
      if (this.place.kind === kind) el?.setAttribute("aria-current", "page");
      else el?.removeAttribute("aria-current");
    }
  }

  private row(n: Notebook): HTMLElement {
    let row = this.rowEls.get(n.id);
    if (!row) {
      row = document.createElement("div");
      this.rowEls.set(n.id, row);
    }
    row.className = "nb-row";
    row.tabIndex = 0;
    row.dataset.id = n.id;
    row.dataset.testid = "notebook";
    row.dataset.path = n.path;
    row.dataset.drop = `notebook:${n.id}`;
    row.setAttribute("role", "treeitem");
    row.setAttribute("aria-level", String(n.depth + 1));
    row.style.paddingLeft = `${4 + n.depth * INDENT_PX}px`;
    const selected = this.place.kind === "notebook" && this.place.id === n.id;
    row.setAttribute("aria-selected", String(selected));
    const twisty = document.createElement("span");
    twisty.className = "nb-twisty";
    row.removeAttribute("aria-expanded");
    if (this.hasChildren(n.id)) {
      const open = !this.collapsed.has(n.id);
      row.setAttribute("aria-expanded", String(open));
      twisty.textContent = open ? "▾" : "▸";
      twisty.title = open ? "Collapse" : "Expand";
    }
    const name = document.createElement("span");
    name.className = "nb-name";
    name.textContent = n.name;
    const count = document.createElement("span");
    count.className = "nb-count";
    count.textContent = String(n.notes_total);
    const share = this.shared.get(n.id);
    if (share) {
      const mark = document.createElement("span");
      mark.className = "nb-shared";
      mark.setAttribute("role", "img");
      const what = sharedTitle(share);
      mark.setAttribute("aria-label", share.shared ? "Shared" : "No longer shared");
      mark.replaceChildren(peopleIcon(!share.shared));
      row.dataset.shared = share.shared ? "yes" : "ended";
      row.title = what;
      row.replaceChildren(twisty, name, mark, count);
    } else {
      delete row.dataset.shared;
      row.removeAttribute("title");
      row.replaceChildren(twisty, name, count);
    }
    return row;
  }

  private editingRow(n: Notebook | null, parent: string | null, depth: number): HTMLElement {
    if (!this.editRow) this.editRow = this.nameInput(n, parent, depth);
    return this.editRow;
  }

  /** The row that asks for a name: of a new notebook under `parent`, or of `n` renamed. */
  private nameInput(n: Notebook | null, parent: string | null, depth: number): HTMLElement {
    const row = document.createElement("div");
    row.className = "nb-row editing";
    row.style.paddingLeft = `${4 + depth * INDENT_PX}px`;
    const input = document.createElement("input");
    input.className = "nb-name-input";
    input.dataset.testid = "notebook-name";
    input.value = n?.name ?? "";
    input.placeholder = "Notebook name";
    input.setAttribute("aria-label", n ? `New name for ${n.name}` : "Name of the new notebook");
    let done = false;
    const finish = async (commit: boolean) => {
      if (done) return;
      done = true;
      const name = input.value.trim();
      this.editing = null;
      this.editRow = null;
      try {
        if (commit && name && n && name !== n.name) await api.renameNotebook(n.id, name);
        else if (commit && name && !n) {
          const id = await api.createNotebook(name, parent);
          await this.reload();
          this.host.select({ kind: "notebook", id });
          return;
        }
      } catch (e) {
        this.host.error(e);
      }
      await this.reload();
    };
    input.addEventListener("keydown", (e) => {
      e.stopPropagation();
      if (e.key === "Enter") void finish(true);
      else if (e.key === "Escape") void finish(false);
    });
    // Leaving the field names the notebook.
    input.addEventListener("blur", () => void finish(true));
    row.append(input);
    return row;
  }

  /** Starts typing a new notebook's name, under `parent` (or at the top). */
  startCreate(parent: string | null): void {
    if (parent) {
      this.collapsed.delete(parent);
      this.reveal(parent);
    }
    this.editing = `new:${parent ?? ""}`;
    this.editRow = null;
    this.render();
  }

  startRename(id: string): void {
    this.editing = id;
    this.editRow = null;
    this.render();
  }

  private menu(x: number, y: number, id: string | null): void {
    const nb = id ? this.byId.get(id) : undefined;
    if (!nb) {
      showMenu(x, y, [{ label: "New notebook", testid: "menu-new-notebook", run: () => this.startCreate(null) }]);
      return;
    }
    const notes = nb.notes_total;
    const share = this.sharedOf(nb.id);
    const live = share?.shared ? share : undefined;
    // Shares do not nest: a notebook inside a shared one is shared with it.
    const own = !live || live.notebook === nb.id;
    const sharing = own
      ? [
          {
            label: live && live.role !== "owner" ? "People…" : "Share…",
            testid: "menu-share-notebook",
            run: () => this.host.share(nb, live),
          },
        ]
      : [];
    const leaving =
      live && live.notebook === nb.id && live.role !== "owner"
        ? [
            {
              label: "Leave notebook",
              testid: "menu-leave-notebook",
              danger: true,
              confirm: `Click again: leave “${nb.name}” (your copy stays here)`,
              run: () => this.host.leave(nb),
            },
          ]
        : [];
    showMenu(x, y, [
      ...sharing,
      ...leaving,
      { label: "New notebook inside", testid: "menu-new-sub-notebook", run: () => this.startCreate(nb.id) },
      { label: "Rename", testid: "menu-rename-notebook", run: () => this.startRename(nb.id) },
      ...(nb.parent
        ? [{ label: "Move to the top level", testid: "menu-move-top", run: () => void this.moveNotebook(nb.id, null) }]
        : []),
      {
        label: "Delete…",
        testid: "menu-delete-notebook",
        danger: true,
        confirm:
          notes > 0
            ? `Click again: delete “${nb.name}” and move its ${notes} ${notes === 1 ? "note" : "notes"} to the trash`
            : `Click again to delete “${nb.name}”`,
        run: () => void this.deleteNotebook(nb.id),
      },
    ]);
  }

  private async deleteNotebook(id: string): Promise<void> {
    try {
      await api.deleteNotebook(id);
    } catch (e) {
      this.host.error(e);
    }
    if (this.place.kind === "notebook" && this.subtree(id).has(this.place.id)) this.host.select({ kind: "all" });
    await this.reload();
  }

  private async moveNotebook(id: string, parent: string | null): Promise<void> {
    try {
      await api.moveNotebook(id, parent);
    } catch (e) {
      this.host.error(e);
    }
    await this.reload();
  }

  /** Something was dropped on a row of the sidebar. */
  async dropped(item: DragItem, target: string): Promise<void> {
    const notebook = target.startsWith("notebook:") ? target.slice("notebook:".length) : null;
    if (item.kind === "note") {
      if (target === "unfiled" || notebook) this.host.moveNote(item.id, notebook);
      return;
    }
    if (notebook === item.id) return;
    if (notebook) await this.moveNotebook(item.id, notebook);
    else if (target === "top" || target === "unfiled") await this.moveNotebook(item.id, null);
  }
}

const SVG = "http://www.w3.org/2000/svg";

/** Two people: a shared notebook's mark (crossed out once it is no longer shared). */
function peopleIcon(ended: boolean): SVGSVGElement {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("width", "13");
  svg.setAttribute("height", "13");
  svg.setAttribute("aria-hidden", "true");
  const shapes = [
    "M5.5 2.5a2.5 2.5 0 1 1 0 5a2.5 2.5 0 1 1 0-5z",
    "M1 13.5c0-2.6 2-4.5 4.5-4.5s4.5 1.9 4.5 4.5z",
    "M11 3.5a2 2 0 1 1 0 4a2 2 0 1 1 0-4z",
    "M10.6 9.1c2.5-.3 4.4 1.5 4.4 4.4h-4c0-1.8-.2-3.2-.4-4.4z",
  ];
  for (const d of shapes) {
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", d);
    path.setAttribute("fill", "currentColor");
    svg.append(path);
  }
  if (ended) {
    const line = document.createElementNS(SVG, "path");
    line.setAttribute("d", "M1.5 1.5l13 13");
    line.setAttribute("stroke", "currentColor");
    line.setAttribute("stroke-width", "1.6");
    svg.append(line);
  }
  return svg;
}

/** What a shared notebook's row says on hover: who is in it. */
function sharedTitle(s: SharedNotebook): string {
  if (!s.shared) return "No longer shared with you: this copy is yours, and changes no longer come or go.";
  const others = s.members.filter((m) => m.account !== s.owner && !m.pending).map((m) => m.account);
  const invited = s.members.filter((m) => m.pending).length;
  const waiting = invited > 0 ? ` (${invited} invited, not yet answered)` : "";
  if (s.role === "owner") {
    return others.length > 0
      ? `Shared with ${others.join(", ")}${waiting}`
      : `Shared; nobody has joined yet${waiting}`;
  }
  const also = others.length > 1 ? `; also in it: ${others.length - 1} more` : "";
  return `Shared with you by ${s.owner}; you ${s.role === "editor" ? "can edit" : "can only read"}${also}`;
}

function setCount(id: string, n: number): void {
  const el = document.getElementById(id)?.querySelector(".nav-count");
  if (el) el.textContent = String(n);
}
