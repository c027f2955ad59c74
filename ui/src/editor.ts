// The Markdown editor: CodeMirror 6 plus the two directions of sync with the
// store. Local edits leave as splices in UTF-16 indexes (CodeMirror's own
// positions). Remote edits arrive as "note changed"; once our own edits have
// all landed, the store's text is diffed against the editor's and applied as
// changes, so the cursor and selection map through them.

import { Annotation, EditorState, Transaction, type Extension } from "@codemirror/state";
import { EditorView, keymap, drawSelection, highlightActiveLine, placeholder } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { markdown } from "@codemirror/lang-markdown";
import { searchKeymap, highlightSelectionMatches, openSearchPanel } from "@codemirror/search";
import { syntaxHighlighting, defaultHighlightStyle } from "@codemirror/language";
import { api, type CairnError, type Note } from "./api";
import { SpliceQueue } from "./splice_queue";
import { diffText } from "./diff";
import { begin } from "./perf";

/** Marks transactions that came from the store, so they are not sent back. */
const fromStore = Annotation.define<boolean>();

// Ctrl+F belongs to the notes search; find-in-note moves to Ctrl+Shift+F.
const noteSearchKeymap = [
  { key: "Mod-Shift-f", run: openSearchPanel },
  ...searchKeymap.filter((b) => b.key !== "Mod-f"),
];

export class NoteEditor {
  readonly view: EditorView;
  private noteId: string | null = null;
  /** Counts local edits so a store read that raced with typing is discarded. */
  private localSeq = 0;
  private remotePending = false;
  private remoteStart: ((d?: Record<string, number | string>) => number) | null = null;
  private readonly queue: SpliceQueue;

  constructor(
    parent: HTMLElement,
    private readonly onError: (e: CairnError) => void,
    /** Tags, pin and trash may have changed remotely too. */
    private readonly onRemoteApplied: (note: Note) => void,
  ) {
    this.queue = new SpliceQueue((noteId, e) => {
      this.onError(e);
      if (noteId === this.noteId) void this.reloadFromStore();
    });
    this.view = new EditorView({ parent, state: this.makeState("") });
  }

  get openId(): string | null {
    return this.noteId;
  }

  private extensions(): Extension[] {
    return [
      history(),
      drawSelection(),
      highlightActiveLine(),
      highlightSelectionMatches(),
      EditorView.lineWrapping,
      markdown(),
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
      placeholder("Start writing…"),
      keymap.of([...noteSearchKeymap, ...defaultKeymap, ...historyKeymap, indentWithTab]),
      EditorView.contentAttributes.of({ "data-testid": "editor", spellcheck: "true" }),
      EditorView.updateListener.of((u) => {
        if (!u.docChanged || this.noteId === null) return;
        if (u.transactions.some((t) => t.annotation(fromStore))) return;
        const id = this.noteId;
        this.localSeq++;
        // Changes come in ascending order; applied one after another, each
        // starts at its position in the new document (fromB).
        u.changes.iterChanges((fromA, toA, fromB, _toB, inserted) => {
          this.queue.push(id, { index: fromB, delete: toA - fromA, insert: inserted.toString() });
        });
      }),
    ];
  }

  private makeState(doc: string): EditorState {
    return EditorState.create({ doc, extensions: this.extensions() });
  }

  /** Shows `body` as note `id`, with fresh undo history. */
  open(id: string, body: string): void {
    this.noteId = id;
    this.view.setState(this.makeState(body));
  }

  close(): void {
    this.noteId = null;
    this.view.setState(this.makeState(""));
  }

  setReadOnly(readOnly: boolean): void {
    this.view.contentDOM.setAttribute("contenteditable", readOnly ? "false" : "true");
  }

  focus(): void {
    this.view.focus();
  }

  /** Waits until every edit made so far is in the store. */
  flushed(): Promise<void> {
    return this.queue.whenIdle();
  }

  /**
   * Called when the store reports that another device changed note `id`.
   * Bursts collapse: one reconcile runs per burst, after our edits land.
   */
  remoteChanged(id: string): void {
    if (id !== this.noteId) return;
    if (!this.remoteStart) this.remoteStart = begin("remote-apply");
    if (this.remotePending) return;
    this.remotePending = true;
    void this.reconcile();
  }

  private async reconcile(): Promise<void> {
    try {
      for (;;) {
        await this.queue.whenIdle();
        const id = this.noteId;
        if (id === null) return;
        const seq = this.localSeq;
        const note = await api.getNote(id);
        // Typing while we read means the store's text lacks those edits;
        // wait for them to land and read again.
        if (id !== this.noteId) return;
        if (seq !== this.localSeq || !this.queue.idle) continue;
        const changes = diffText(this.view.state.doc.toString(), note.body);
        if (changes.length > 0) {
          this.view.dispatch({
            changes,
            // Remote edits are not the user's to undo; undo history maps
            // through them instead.
            annotations: [fromStore.of(true), Transaction.addToHistory.of(false)],
            userEvent: "remote",
          });
        }
        this.remoteStart?.({ changes: changes.length, length: note.body.length });
        this.onRemoteApplied(note);
        return;
      }
    } catch (e) {
      this.onError(e as CairnError);
    } finally {
      this.remotePending = false;
      this.remoteStart = null;
    }
  }

  private async reloadFromStore(): Promise<void> {
    const id = this.noteId;
    if (id === null) return;
    try {
      const note = await api.getNote(id);
      if (id === this.noteId) this.open(id, note.body);
    } catch (e) {
      this.onError(e as CairnError);
    }
  }
}
