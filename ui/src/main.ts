// Wires the pieces together: list on the left, editor on the right, history,
// sync indicator and account dialog. All state that matters lives in the
// store behind the shell; this file only keeps what is on screen.

import "./perf";
import { api, events, CairnError, type Note, type NoteSummary } from "./api";
import { byId, initToast, toast } from "./dom";
import { ConfirmClick } from "./confirm_click";
import { LazyEditor } from "./lazy_editor";
import { NotesList } from "./notes_list";
import { HistoryPanel } from "./history_panel";
import { initSyncIndicator } from "./sync_indicator";
import { AccountDialog } from "./account";
import { installShortcuts } from "./shortcuts";
import { begin } from "./perf";
import { showRepairScreen } from "./repair_screen";
import { NotebookTreeView, samePlace, type Place } from "./notebook_tree";
import { makeDraggable } from "./drag";
import { QuickSwitcher } from "./quick_switcher";
import { BacklinksPanel } from "./backlinks_panel";
import { Transfer } from "./transfer";
import type { NoteLink } from "./md/link_at";
import { AppearanceSettings } from "./appearance";
import { AttachmentSettings } from "./attachment_settings";
import { refreshShown } from "./attachments";
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { ShareDialog } from "./share_dialog";
import { InvitationsView } from "./invitations";
import { ask } from "./ask";

const SEARCH_LIMIT = 1000;
/** Results asked for first: more than a screenful, few enough to arrive
 * at once; the rest (up to SEARCH_LIMIT) follow. */
const SEARCH_FIRST = 100;
/** Changed rows are gathered this long before the list is redrawn. */
const ROW_UPDATE_DELAY_MS = 100;
/** Search results whose notebook paths are shown (the first screenfuls). */
const PATHS_FOR = 1000;
/** Narrower than this, the notebooks are hidden until asked for (style.css says the same). */
const NARROW_PX = 760;

/** Rows read before the rest at a start: more than a tall window shows. */
const FIRST_PAGE = 60;
/** What the window says when a control that would change a viewer's note is used anyway (a shortcut). */
const VIEW_ONLY = "You can view this notebook: its notes cannot be changed here.";

/**
 * Notes when the list's first screenful was painted, once: in the frame
 * after this call (wall clock, for the start benchmark against the
 * process's start).
 */
function noteFirstScreen(): void {
  if (firstScreenNoted) return;
  firstScreenNoted = true;
  requestAnimationFrame(() =>
    setTimeout(() => {
      window.__cairnFirstScreenMs = Date.now();
      performance.mark("start:first-screen-painted");
    }),
  );
}
let firstScreenNoted = false;

function showError(e: unknown): void {
  const message = e instanceof CairnError ? e.message : e instanceof Error ? e.message : String(e);
  toast(message, "error");
}

class App {
  private place: Place = { kind: "all" };
  private tag = "";
  private query = "";
  /** Every note of the current view (notes or trash), newest first. */
  private all: NoteSummary[] = [];
  private current: NoteMeta | null = null;

  /** The open note, if any. */
  currentNoteId(): string | null {
    return this.current?.id ?? null;
  }
  private filterSeq = 0;
  private rowTimer = 0;
  /**
   * Notes whose rows changed, to be read from the store. A row handed over
   * with a change (the editor's answer) is not used: it may be older than a
   * change made since (a trash undone), and only the store knows the order.
   */
  private changedRows = new Set<string>();
  /**
   * Reads of the list (a reload, changed rows) run one after another. Each
   * answer is applied before the next read is asked, so an answer never
   * lands after a newer one: a row read before a restore cannot undo the
   * reload that followed it.
   */
  private listReads: Promise<void> = Promise.resolve();

  readonly list = new NotesList(byId("note-list"), (id) => void this.open(id));
  readonly editor = new LazyEditor(
    byId("editor"),
    showError,
    (row) => {
      // Typed after a restore: Ctrl+Z undoes the typing, not the restore.
      this.history.forgetRestore();
      // Typed into: a note to keep.
      if (row.id === this.freshNote) this.freshNote = null;
      this.showMeta(row);
      this.rowsChanged([row.id]);
    },
    (link) => void this.follow(link),
  );
  readonly appearance = new AppearanceSettings((dark) => this.editor.setDark(dark));
  readonly attachmentSettings = new AttachmentSettings();
  readonly tree = new NotebookTreeView(byId("notebook-tree"), {
    select: (place) => void this.setPlace(place),
    moveNote: (id, notebook) => void this.moveNote(id, notebook),
    share: (nb, shared) => void this.shareDialog.open(nb, shared),
    leave: (nb) => void this.leaveNotebook(nb.id, nb.name),
    error: showError,
  });
  readonly shareDialog = new ShareDialog((from, to) => void this.sharingChanged(from, to));
  readonly invitations = new InvitationsView((notebook) => void this.joined(notebook));
  /** The open note's notebook (None: Unfiled), for what its share allows. */
  private openNotebook: string | null = null;
  readonly switcher = new QuickSwitcher(
    (id) => void this.open(id).then(() => this.editor.focus()),
    (id) => this.tree.pathOf(this.placeOf.get(id) ?? null),
    showError,
  );
  readonly backlinks = new BacklinksPanel((id) => void this.open(id));
  readonly transfer = new Transfer(() => {
    void this.tree.reload();
    void this.reload();
  }, showError);
  /** Notebook of each note whose place was asked for (search results). */
  private placeOf = new Map<string, string | null>();
  private treeTimer = 0;
  readonly history = new HistoryPanel(
    (id) => void this.open(id),
    () => this.showEditor(),
    showError,
  );
  readonly account = new AccountDialog();

  private readonly search = byId<HTMLInputElement>("search");
  private readonly tagFilter = byId<HTMLSelectElement>("tag-filter");

  /** `firstPage`: the list's first rows, asked for before anything else. */
  async start(firstPage: Promise<NoteSummary[] | null>): Promise<void> {
    initToast();
    await this.appearance.load().catch(showError);
    performance.mark("start:appearance");
    this.search.addEventListener("input", () => {
      this.query = this.search.value.trim();
      void this.filter();
    });
    this.search.addEventListener("keydown", (e) => {
      // The first result, whichever note is open.
      if (e.key === "ArrowDown") {
        e.preventDefault();
        byId("note-list").focus();
        this.list.openFirst();
      } else if (e.key === "Enter") {
        this.list.openFirst();
        this.editor.focus();
      }
    });
    this.tagFilter.addEventListener("change", () => {
      this.tag = this.tagFilter.value;
      void this.filter();
    });
    byId("new-note").addEventListener("click", () => void this.create());
    byId("view-notes").addEventListener("click", () => void this.setPlace({ kind: "all" }));
    byId("nav-unfiled").addEventListener("click", () => void this.setPlace({ kind: "unfiled" }));
    byId("view-trash").addEventListener("click", () => void this.setPlace({ kind: "trash" }));
    byId("new-notebook").addEventListener("click", () => this.tree.startCreate(null));
    byId("nav-toggle").addEventListener("click", () => this.toggleNav());
    byId("menu-import").addEventListener("click", () => void this.transfer.importFolder());
    byId("menu-export").addEventListener("click", () => void this.transfer.exportAll());
    byId("nav").addEventListener("contextmenu", (e) => {
      // The tree has its own menu; elsewhere in the sidebar, "New notebook".
      if ((e.target as HTMLElement).closest("#notebook-tree")) return;
      e.preventDefault();
      this.tree.startCreate(null);
    });
    makeDraggable(
      byId("note-list"),
      ".note-row",
      (el) => {
        const id = el.dataset.id;
        if (!id || this.trashedView) return null;
        const title = el.querySelector(".note-title")?.textContent ?? "";
        return { kind: "note", id, label: title };
      },
      (item, target) => void this.tree.dropped(item, target),
    );
    byId("pin").addEventListener("click", () => void this.togglePin());
    byId("trash").addEventListener("click", () => void this.trash());
    byId("restore").addEventListener("click", () => void this.restore());
    byId("delete").addEventListener("click", () => void this.deleteForever());
    byId("history-toggle").addEventListener("click", () => void this.toggleHistory());
    byId("empty-trash").addEventListener("click", () => void this.emptyTrash());
    byId("first-note").addEventListener("click", () => void this.create());
    byId("open-account").addEventListener("click", () => void this.account.open());
    byId<HTMLInputElement>("tag-input").addEventListener("keydown", (e) => {
      if (e.key === "Enter") void this.addTag((e.target as HTMLInputElement).value);
    });
    installShortcuts(this);

    const listening = events.notesChanged((batch) => {
      // Counts change with notes too (a move, a trash), so the tree is
      // read again after any burst; the read is one small query.
      this.scheduleTree();
      if (this.current) this.backlinks.refresh();
      const ids: string[] = [];
      for (const c of batch.changes) {
        // The editor catches up on what it did not write itself. The row
        // is read again either way: one row, and the change may have come
        // from elsewhere in the app (a restored version, a tag).
        if (c.note_id === this.editor.openId && c.origin === "merged") {
          this.editor.remoteChanged(c.note_id);
          // A reference may have come before its attachment's record.
          refreshShown();
        }
        ids.push(c.note_id);
      }
      this.rowsChanged(ids);
    });
    const sharing = events.sharingChanged(() => {
      void this.invitations.refresh();
      this.scheduleTree();
    });
    // A round may find this account removed from a shared notebook while
    // it was offline: no note changes, but the tree's marks do (a read
    // of the store, drawn only if it differs).
    const rounds = events.syncStatus(() => this.scheduleTree());
    // Independent of one another: asked at once, not one after another.
    await Promise.all([
      listening,
      sharing,
      rounds,
      initSyncIndicator(() => void this.account.open()),
      this.attachmentSettings.load(),
      // Files dropped on the window: Tauri gives their paths, in physical pixels.
      getCurrentWebview().onDragDropEvent((e) => {
        if (e.payload.type !== "drop") return;
        const scale = window.devicePixelRatio || 1;
        this.editor.dropFiles(e.payload.paths, e.payload.position.x / scale, e.payload.position.y / scale);
      }),
      this.tree.start(),
    ]);
    performance.mark("start:set-up");
    // Over the network: never in the way of the first screen.
    void this.invitations.refresh();
    const first = await firstPage;
    // Shown at once unless the list has been read meanwhile (a change
    // came in) or another view was chosen; the whole list follows.
    if (first && this.place.kind === "all" && this.all.length === 0 && !this.query && !this.tag) {
      this.list.set(first);
      performance.mark("start:first-page");
      noteFirstScreen();
      // Painted before the whole list is read, or both land in one frame.
      await new Promise((painted) => requestAnimationFrame(() => setTimeout(painted)));
    }
    // The editor's code loads while the whole list is read.
    void this.editor.load().catch(showError);
    await this.reload();
    performance.mark("start:whole-list");
    document.body.dataset.ready = "true";
    noteFirstScreen();
  }

  private get trashedView(): boolean {
    return this.place.kind === "trash";
  }

  private scheduleTree(): void {
    if (this.treeTimer) return;
    this.treeTimer = window.setTimeout(() => {
      this.treeTimer = 0;
      void this.tree.reload().then(() => this.treeChanged());
    }, ROW_UPDATE_DELAY_MS);
  }

  /** The notebook shown was deleted (here or elsewhere): show all notes. */
  private treeChanged(): void {
    if (this.place.kind === "notebook" && !this.tree.exists(this.place.id)) void this.setPlace({ kind: "all" });
    else this.showPlaceTitle();
    this.showShareLine();
  }

  // ---- shared notebooks ---------------------------------------------------

  /** Whether the open note is in a notebook shared with this account to read only. */
  private viewOnly = false;

  /** Whether `notebook` is shared with this account to read only. */
  private isViewed(notebook: string | null): boolean {
    const share = this.tree.sharedOf(notebook);
    return !!share?.shared && share.role === "viewer";
  }

  /** The line over the editor that says what the open note's share allows,
   * and the editor read-only for a viewer. */
  private showShareLine(): void {
    const line = byId("share-line");
    const share = this.current ? this.tree.sharedOf(this.openNotebook) : undefined;
    const name = share ? this.tree.sharedName(share) : "";
    this.viewOnly = this.current ? this.isViewed(this.openNotebook) : false;
    if (!share) {
      line.hidden = true;
      delete line.dataset.kind;
    } else if (!share.shared) {
      line.hidden = false;
      line.dataset.kind = "ended";
      line.textContent = `“${name}” is no longer shared with you. Your copy stays here; changes no longer reach the others, nor theirs you.`;
    } else if (this.viewOnly) {
      line.hidden = false;
      line.dataset.kind = "viewer";
      line.textContent = `You can view this notebook: “${name}” is shared with you to read.`;
    } else {
      line.hidden = true;
      delete line.dataset.kind;
    }
    this.editor.setReadOnly(!!this.current?.trashed || this.viewOnly);
    this.history.setReadOnly(this.viewOnly);
    if (this.current) this.showMeta(this.current);
  }

  /** The share dialog shared a notebook (it took the id `to`) or changed its people. */
  private async sharingChanged(from: string, to: string): Promise<void> {
    await this.tree.reload();
    if (from !== to && this.place.kind === "notebook" && this.place.id === from) {
      await this.setPlace({ kind: "notebook", id: to });
    }
    if (this.openNotebook === from) this.openNotebook = to;
    this.treeChanged();
  }

  /** An invitation was accepted: its notebook is in the tree, its notes on their way. */
  private async joined(notebook: string): Promise<void> {
    await this.tree.reload();
    if (this.tree.exists(notebook)) await this.setPlace({ kind: "notebook", id: notebook });
  }

  private async leaveNotebook(id: string, name: string): Promise<void> {
    try {
      await api.leaveNotebook(id);
      toast(`Left “${name}”; your copy stays here`);
    } catch (e) {
      showError(e);
    }
    await this.tree.reload();
    this.treeChanged();
  }

  private showPlaceTitle(): void {
    const p = this.place;
    byId("place-title").textContent =
      p.kind === "all" ? "All notes" : p.kind === "unfiled" ? "Unfiled" : p.kind === "trash" ? "Trash" : this.tree.pathOf(p.id);
  }

  /** Shows or hides the notebooks (in a narrow window they lie over the list). */
  toggleNav(): void {
    const shown = getComputedStyle(byId("nav")).display !== "none";
    document.body.dataset.nav = shown ? "hidden" : "shown";
  }

  // ---- list ---------------------------------------------------------------

  /**
   * Notes `ids` changed: their rows are replaced (or dropped) after a short
   * pause, so a burst of changes costs one redraw and one store read of
   * just those rows, not a reload of the whole list.
   */
  private rowsChanged(ids: string[]): void {
    if (ids.length === 0) return;
    for (const id of ids) this.changedRows.add(id);
    if (this.rowTimer) return;
    this.rowTimer = window.setTimeout(() => void this.readList(() => this.updateRows()), ROW_UPDATE_DELAY_MS);
  }

  /** Runs `read` after the list reads before it; see `listReads`. */
  private readList(read: () => Promise<void>): Promise<void> {
    const next = this.listReads.then(read);
    // One failed read must not stop the ones after it.
    this.listReads = next.catch(showError);
    return next;
  }

  private async updateRows(): Promise<void> {
    const changed = this.changedRows;
    this.changedRows = new Set();
    let rows: NoteSummary[] = [];
    try {
      rows = await api.noteSummaries([...changed]);
    } catch (e) {
      showError(e);
      // Rows not read stay as they are: a failed read is not a deletion.
      changed.clear();
    } finally {
      this.rowTimer = 0;
    }
    const place = this.place;
    rows = rows.filter((r) => r.trashed === this.trashedView);
    try {
      rows = await this.inPlace(rows);
    } catch (e) {
      showError(e);
    }
    // A row must not be in the list twice. Another place chosen meanwhile
    // is read whole from the store next, these rows included.
    if (samePlace(place, this.place)) {
      this.all = this.all.filter((n) => !changed.has(n.id));
      for (const row of rows) insertInListOrder(this.all, row);
    }
    this.fillTagFilter();
    await this.filter(false);
    // More changes came while the store was asked.
    if (this.changedRows.size > 0 && !this.rowTimer)
      this.rowTimer = window.setTimeout(() => void this.readList(() => this.updateRows()), ROW_UPDATE_DELAY_MS);
  }

  /** Of these rows, the ones in the place shown (a notebook and those under it, or Unfiled). */
  private async inPlace(rows: NoteSummary[]): Promise<NoteSummary[]> {
    const p = this.place;
    if (rows.length === 0 || p.kind === "all" || p.kind === "trash") return rows;
    const places = await api.notePlaces(rows.map((r) => r.id));
    const of = new Map(places.map((x) => [x.id, x.notebook]));
    for (const [id, nb] of of) this.placeOf.set(id, nb);
    const inside = p.kind === "notebook" ? this.tree.subtree(p.id) : null;
    return rows.filter((r) => {
      const nb = of.get(r.id) ?? null;
      const live = nb !== null && this.tree.exists(nb);
      return inside ? live && inside.has(nb as string) : !live;
    });
  }

  /** Reloads the current view from the store and re-applies the filters. */
  reload(): Promise<void> {
    return this.readList(() => this.readPlace());
  }

  private async readPlace(): Promise<void> {
    const p = this.place;
    let all: NoteSummary[];
    try {
      all =
        p.kind === "notebook"
          ? await api.listNotebookNotes(p.id, true)
          : p.kind === "unfiled"
            ? await api.listNotebookNotes(null, false)
            : await api.listNotes(p.kind === "trash", null);
    } catch (e) {
      showError(e);
      return;
    }
    // Another place chosen meanwhile: its own reload, next, shows it.
    if (!samePlace(p, this.place)) return;
    this.all = all;
    this.fillTagFilter();
    await this.filter(false);
  }

  private fillTagFilter(): void {
    const tags = new Set<string>();
    for (const n of this.all) for (const t of n.tags) tags.add(t);
    const sorted = [...tags].sort((a, b) => a.localeCompare(b));
    if (this.tag && !tags.has(this.tag)) sorted.unshift(this.tag);
    const options = [new Option("All tags", ""), ...sorted.map((t) => new Option(`#${t}`, t))];
    this.tagFilter.replaceChildren(...options);
    this.tagFilter.value = this.tag;
  }

  /**
   * Applies search and tag filter; `measure` is false for background reloads.
   *
   * Store calls run one at a time, so a search per keystroke would queue up
   * behind the ones before it. At most one search is in flight; keystrokes
   * meanwhile only note that the query changed, and the newest query is
   * asked next. Each measurement runs from the keystroke whose result is
   * shown, waiting included.
   */
  async filter(measure = true): Promise<void> {
    const done = measure ? begin("filter-list") : null;
    ++this.filterSeq;
    if (!this.query) {
      this.show(this.all, done);
      return;
    }
    this.searchDone = done;
    if (this.searchInFlight) return;
    this.searchInFlight = true;
    try {
      for (;;) {
        const asked = this.filterSeq;
        let items: NoteSummary[];
        try {
          items = await this.searched(SEARCH_FIRST);
          if (this.filterSeq === asked && items.length === SEARCH_FIRST) {
            // The first screenful now; the measurement ends with it.
            this.show(items, this.searchDone);
            this.searchDone = null;
            items = await this.searched(SEARCH_LIMIT);
          }
        } catch (e) {
          showError(e);
          return;
        }
        if (this.filterSeq === asked) {
          this.show(items, this.searchDone);
          return;
        }
        // Something newer happened. If it was a local filter it has been
        // shown already; if it was a search, ask for the newest query.
        if (!this.query) return;
      }
    } finally {
      this.searchInFlight = false;
    }
  }

  /** The search's rows, each with the passage it matched as its excerpt. */
  private async searched(limit: number): Promise<NoteSummary[]> {
    const found = await api.searchNotes(this.query, this.trashedView, limit);
    this.found = found;
    return found.hits.map((h) => ({ ...h.note, excerpt: h.snippet }));
  }

  /** What the last search matched: its words to mark, and whether typos were forgiven. */
  private found = { terms: [] as string[], fuzzy: false };

  private searchInFlight = false;
  private searchDone: ((detail?: Record<string, number | string>) => number) | null = null;

  private show(found: NoteSummary[], done: ((detail?: Record<string, number | string>) => number) | null): void {
    const items = this.tag ? found.filter((n) => n.tags.includes(this.tag)) : found;
    // Search looks through every notebook; each result says where it is.
    this.list.setPaths(this.query && !this.trashedView ? (id) => this.pathOfNote(id) : null);
    const terms = this.query ? this.found.terms : [];
    this.list.setTerms(terms);
    this.editor.setFound(terms);
    this.list.set(items);
    if (this.query && !this.trashedView) void this.askPlaces(items);
    this.list.select(this.current?.id ?? null, false);
    const status = byId("list-status");
    status.textContent =
      this.query && this.found.fuzzy && items.length > 0
        ? `Close spellings included · ${items.length} of ${this.all.length}`
        : this.query || this.tag
          ? `${items.length} of ${this.all.length}`
          : this.trashedView && items.length === 0
            ? "The trash is empty"
            : `${items.length} ${items.length === 1 ? "note" : "notes"}`;
    byId("trash-actions").hidden = !this.trashedView || this.all.length === 0;
    byId("first-note").hidden = this.trashedView || this.all.length > 0 || !!this.query;
    const nothing = byId("list-empty");
    nothing.hidden = !this.query || items.length > 0;
    byId("list-empty-what").textContent = `Nothing found for “${this.query}”`;
    done?.({ shown: items.length, total: this.all.length, query: this.query });
  }

  private pathOfNote(id: string): string | null {
    if (!this.placeOf.has(id)) return null;
    return this.tree.pathOf(this.placeOf.get(id) ?? null) || "Unfiled";
  }

  /** Reads the notebooks of search results not asked about yet, then shows their paths. */
  private async askPlaces(items: NoteSummary[]): Promise<void> {
    const ask = items
      .slice(0, PATHS_FOR)
      .map((n) => n.id)
      .filter((id) => !this.placeOf.has(id));
    if (ask.length === 0) return;
    try {
      for (const p of await api.notePlaces(ask)) this.placeOf.set(p.id, p.notebook);
    } catch (e) {
      showError(e);
      return;
    }
    this.list.refreshRows();
  }

  /** Shows a place's notes; choosing the place shown again reads it afresh. */
  async setPlace(place: Place): Promise<void> {
    if (!samePlace(place, this.place)) this.tag = "";
    this.place = place;
    this.tree.setPlace(place);
    this.showPlaceTitle();
    if (window.innerWidth < NARROW_PX) document.body.dataset.nav = "hidden";
    document.body.dataset.place = place.kind === "notebook" ? `notebook:${place.id}` : place.kind;
    await this.reload();
  }

  /** Puts a note in a notebook (dropped on it), or in Unfiled. */
  async moveNote(id: string, notebook: string | null): Promise<void> {
    try {
      // Out of a shared notebook, the note stops being shared: asked first.
      const [place] = await api.notePlaces([id]);
      const from = this.tree.sharedOf(place?.notebook ?? null);
      // A viewer moves nothing out of the notebook, nor into one.
      if (this.isViewed(place?.notebook ?? null) || this.isViewed(notebook)) {
        toast(VIEW_ONLY, "error");
        return;
      }
      if (from?.shared && this.tree.sharedOf(notebook)?.notebook !== from.notebook) {
        const name = this.tree.sharedName(from);
        const who =
          from.role === "owner"
            ? from.members.filter((m) => m.account !== from.owner).map((m) => m.account).join(", ")
            : `the people in “${name}”`;
        const go = await ask(
          `Move this note out of “${name}”?`,
          `It will no longer be shared with ${who || "the people in it"}. They keep the copy they have now; what you write from now on does not reach them.`,
          "Move it",
        );
        if (!go) return;
      }
      if (id === this.current?.id) await this.editor.flushed();
      await api.moveNote(id, notebook);
      this.placeOf.set(id, notebook);
      if (id === this.current?.id) {
        this.openNotebook = notebook;
        this.showShareLine();
      }
      if (id === this.current?.id) this.editor.catchUp();
      this.rowsChanged([id]);
      await this.tree.reload();
      const where = notebook ? this.tree.pathOf(notebook) : "Unfiled";
      toast(`Moved to ${where}`);
    } catch (e) {
      showError(e);
    }
  }

  /** Opens the note a link leads to, making it if no note has the title. */
  async follow(link: NoteLink): Promise<void> {
    const source = this.current?.id;
    if (!source) return;
    try {
      // The link must be in the store's copy of the note to be followed.
      await this.editor.flushed();
      const to = await api.followLink(source, link.text);
      this.editor.catchUp();
      if (to.created) {
        this.rowsChanged([to.id]);
        toast(`Created “${link.text}”`);
      }
      await this.open(to.id);
      if (link.heading) this.editor.goToHeading(link.heading);
      this.editor.focus();
    } catch (e) {
      showError(e);
    }
  }

  openSwitcher(): void {
    void this.switcher.open();
  }

  // ---- the open note ------------------------------------------------------

  /**
   * A note made with Ctrl+N (or +) that nothing has been typed into yet:
   * leaving it as it was deletes it, so no "Untitled" notes pile up.
   */
  private freshNote: string | null = null;

  /** Deletes the fresh note (unless it is `except`) if it is still blank. */
  private async dropFreshNote(except: string | null): Promise<void> {
    const id = this.freshNote;
    if (!id || id === except) return;
    this.freshNote = null;
    try {
      // The store decides, in one call: text merged from another device
      // (or typed and just flushed) keeps the note.
      if (!(await api.discardIfBlank(id))) return;
    } catch (e) {
      showError(e);
      return;
    }
    this.all = this.all.filter((n) => n.id !== id);
    await this.filter(false);
  }

  async open(id: string): Promise<void> {
    const done = begin("open-note");
    // Loaded after the first screenful; usually long since.
    const editor = await this.editor.load();
    // What was typed into the note being left reaches the store first.
    await editor.flushed();
    await this.dropFreshNote(id);
    let note: Note;
    try {
      note = await api.getNote(id);
    } catch (e) {
      showError(e);
      return;
    }
    this.history.close();
    this.current = note;
    byId("empty-state").hidden = true;
    byId("note-pane").hidden = false;
    editor.open(id, note.body, note.heads);
    // Its attachments download now, whatever their size.
    api.wantNoteAttachments(id).catch((e) => console.error("asking for attachments", e));
    this.editor.setFound(this.query ? this.found.terms : [], true);
    this.showMeta(note);
    this.list.select(id);
    void this.backlinks.show(id);
    void this.showShareOf(id);
    done({ bytes: note.body.length });
  }

  /** Reads the open note's notebook, then what its share allows. */
  private async showShareOf(id: string): Promise<void> {
    try {
      const [place] = await api.notePlaces([id]);
      if (this.current?.id !== id) return;
      this.openNotebook = place?.notebook ?? null;
    } catch (e) {
      showError(e);
    }
    this.showShareLine();
  }

  private closeNote(): void {
    this.current = null;
    this.openNotebook = null;
    byId("share-line").hidden = true;
    this.history.close();
    this.editor.close();
    void this.backlinks.show(null);
    byId("note-pane").hidden = true;
    byId("empty-state").hidden = false;
    this.list.select(null);
  }

  showMeta(note: NoteMeta): void {
    if (this.current?.id !== note.id) return;
    this.current = note;
    const pane = byId("note-pane");
    pane.dataset.noteId = note.id;
    pane.dataset.trashed = String(note.trashed);
    byId("pin").textContent = note.pinned ? "Unpin" : "Pin";
    byId("pin").setAttribute("aria-pressed", String(note.pinned));
    // Tags and pins are for notes in use (the store refuses them too); a
    // viewer changes nothing of a note (the engine refuses it, and the
    // window does not offer it).
    const fixed = note.trashed || this.viewOnly;
    byId<HTMLButtonElement>("pin").disabled = fixed;
    byId<HTMLInputElement>("tag-input").disabled = fixed;
    byId<HTMLButtonElement>("trash").disabled = this.viewOnly;
    byId<HTMLButtonElement>("restore").disabled = this.viewOnly;
    byId<HTMLButtonElement>("delete").disabled = this.viewOnly;
    byId("trash").hidden = note.trashed;
    byId("restore").hidden = !note.trashed;
    byId("delete").hidden = !note.trashed;
    byId("trashed-banner").hidden = !note.trashed;
    this.editor.setReadOnly(fixed);
    const tags = byId("tags");
    // Shown again after every edit the editor makes: the chips are only
    // rebuilt when they would differ, so typing does not redraw them.
    const drawn = JSON.stringify([note.id, note.tags, fixed]);
    if (tags.dataset.drawn === drawn) return;
    tags.dataset.drawn = drawn;
    tags.replaceChildren(
      ...note.tags.map((t) => {
        const chip = document.createElement("span");
        chip.className = "tag";
        chip.dataset.tag = t;
        chip.textContent = `#${t}`;
        const x = document.createElement("button");
        x.textContent = "×";
        x.title = `Remove tag ${t}`;
        x.disabled = fixed;
        x.addEventListener("click", () => void this.removeTag(t));
        chip.append(x);
        return chip;
      }),
    );
  }

  private showEditor(): void {
    byId("editor").hidden = false;
  }

  /** A new note, in the notebook shown (if one is). */
  async create(): Promise<void> {
    if (this.trashedView) await this.setPlace({ kind: "all" });
    const notebook = this.place.kind === "notebook" ? this.place.id : null;
    try {
      await this.editor.flushed();
      await this.dropFreshNote(null);
      const note = await api.createNote("", notebook);
      this.all = [summaryOf(note), ...this.all];
      await this.filter(false);
      await this.open(note.id);
      this.freshNote = note.id;
      this.editor.focus();
    } catch (e) {
      showError(e);
    }
  }

  /** Runs a change to the open note's metadata and shows the result. */
  private async change(f: (id: string) => Promise<Note>): Promise<Note | null> {
    const id = this.current?.id;
    if (!id) return null;
    // The shortcuts reach here past the disabled buttons.
    if (this.viewOnly) {
      toast(VIEW_ONLY, "error");
      return null;
    }
    try {
      await this.editor.flushed();
      const note = await f(id);
      this.showMeta(note);
      // The editor's heads move past this change, so its next edit is
      // placed on a version that has it.
      this.editor.catchUp();
      this.rowsChanged([id]);
      return note;
    } catch (e) {
      showError(e);
      return null;
    }
  }

  async addTag(raw: string): Promise<void> {
    const tag = raw.trim().replace(/^#/, "");
    if (!tag) return;
    const input = byId<HTMLInputElement>("tag-input");
    if (await this.change((id) => api.setTags(id, [tag], []))) input.value = "";
  }

  async removeTag(tag: string): Promise<void> {
    await this.change((id) => api.setTags(id, [], [tag]));
  }

  async togglePin(): Promise<void> {
    const pinned = !this.current?.pinned;
    await this.change((id) => api.setPinned(id, pinned));
  }

  /** Leaves the note's place in the list, opening its neighbour. */
  private async leave(id: string): Promise<void> {
    const next = this.list.neighbour(id);
    this.all = this.all.filter((n) => n.id !== id);
    await this.filter(false);
    if (next) await this.open(next);
    else this.closeNote();
  }

  async trash(): Promise<void> {
    const id = this.current?.id;
    if (!id || this.current?.trashed) return;
    if (this.freshNote === id) this.freshNote = null;
    if (await this.change((nid) => api.trash(nid))) {
      await this.leave(id);
      toast("Moved to trash", "info", {
        label: "Undo",
        run: () => void this.undoTrash(id),
      });
    }
  }

  private async undoTrash(id: string): Promise<void> {
    try {
      await api.restore(id);
      await this.reload();
      await this.open(id);
    } catch (e) {
      showError(e);
    }
  }

  private readonly emptyTrashConfirm = new ConfirmClick(
    byId("empty-trash"),
    "Empty trash",
    "Click again to delete them forever",
  );

  /** Two clicks, like deleting one note: the trash is the last way back. */
  async emptyTrash(): Promise<void> {
    if (!this.emptyTrashConfirm.confirmed()) return;
    try {
      const n = await api.emptyTrash();
      if (this.current?.trashed) this.closeNote();
      await this.reload();
      toast(`Deleted ${n} ${n === 1 ? "note" : "notes"} for good`);
    } catch (e) {
      showError(e);
    }
  }

  async restore(): Promise<void> {
    const id = this.current?.id;
    if (!id || !this.current?.trashed) return;
    if (await this.change((nid) => api.restore(nid))) {
      await this.leave(id);
      toast("Restored");
    }
  }

  /** Two clicks, so a slip of the mouse cannot destroy a note. */
  private readonly deleteConfirm = new ConfirmClick(byId("delete"), "Delete", "Click again to delete forever");

  async deleteForever(): Promise<void> {
    const id = this.current?.id;
    if (!id || this.viewOnly || !this.deleteConfirm.confirmed()) return;
    try {
      await api.remove(id);
      await this.leave(id);
      toast("Deleted");
    } catch (e) {
      showError(e);
    }
  }

  async toggleHistory(): Promise<void> {
    const id = this.current?.id;
    if (!id) return;
    if (this.history.isOpen) {
      this.history.close();
      return;
    }
    await this.editor.flushed();
    byId("editor").hidden = true;
    await this.history.open(id);
    if (!this.history.isOpen) this.showEditor();
  }

  /** The open note's tag field (the editor keeps Tab for indenting). */
  focusTagInput(): void {
    const input = byId<HTMLInputElement>("tag-input");
    if (this.current && !input.disabled) input.focus();
  }

  focusSearch(): void {
    this.search.focus();
    this.search.select();
  }

  get hasOpenNote(): boolean {
    return this.current !== null;
  }
}

/** What the toolbar shows of the open note. */
type NoteMeta = Pick<Note, "id" | "tags" | "pinned" | "trashed">;

/** Pinned first, then most recently modified: the store's list order. */
function insertInListOrder(list: NoteSummary[], row: NoteSummary): void {
  const before = (a: NoteSummary, b: NoteSummary) =>
    a.pinned !== b.pinned ? a.pinned : a.modified_ms > b.modified_ms;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (before(row, list[mid])) hi = mid;
    else lo = mid + 1;
  }
  list.splice(lo, 0, row);
}

function summaryOf(n: Note): NoteSummary {
  return {
    id: n.id,
    title: "",
    excerpt: "",
    tags: n.tags,
    pinned: n.pinned,
    trashed: n.trashed,
    created_ms: n.created_ms,
    modified_ms: n.modified_ms,
  };
}

export type { App };

declare global {
  interface Window {
    /** The open note's text as the editor holds it (what the end-to-end tests compare). */
    __cairnEditorText: () => string;
    /** When the list's first screenful was painted (ms since the epoch). */
    __cairnFirstScreenMs?: number;
  }
}

// A damaged database opens nothing: the window offers the repair instead.
async function boot(): Promise<void> {
  // Marks of a start, for the start benchmark's breakdown: the scripts
  // are loaded and evaluated by now.
  performance.mark("start:scripts");
  // Asked at once, beside the store's state: a start is waiting on the
  // list's first screenful, and the whole list (10,000 rows, say) takes
  // longer to read. A store that did not open answers with an error.
  const firstPage = api.listNotes(false, null, FIRST_PAGE).catch(() => null);
  const problem = await api.startupProblem();
  performance.mark("start:store-asked");
  if (problem) {
    initToast();
    showRepairScreen(problem);
    document.body.dataset.ready = "true";
    return;
  }
  const app = new App();
  performance.mark("start:app-built");
  window.__cairnEditorText = () => app.editor.loaded?.view.state.doc.toString() ?? "";
  await app.start(firstPage);
}

boot().catch(showError);
