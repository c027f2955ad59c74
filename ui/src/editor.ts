// The Markdown editor: CodeMirror 6 plus the two directions of sync with the
// store (splice_queue.ts). Local edits leave as splices in UTF-16 indexes
// (CodeMirror's own positions) with the heads they were made at. Remote
// edits come back as the store's own patches since those heads, applied as
// one transaction that is not the user's to undo, so the cursor and the
// selection map through them.

import { Annotation, ChangeSet, EditorState, Transaction, type Extension } from "@codemirror/state";
import { EditorView, keymap, drawSelection, highlightActiveLine, placeholder } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { markdown } from "@codemirror/lang-markdown";
import { searchKeymap, highlightSelectionMatches, openSearchPanel } from "@codemirror/search";
import { syntaxHighlighting, defaultHighlightStyle } from "@codemirror/language";
import { api, type CairnError, type EditOutcome, type NoteSummary } from "./api";
import { SpliceQueue } from "./splice_queue";
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
  private remoteStart: ((d?: Record<string, number | string>) => number) | null = null;
  private readonly queue: SpliceQueue;

  constructor(
    parent: HTMLElement,
    private readonly onError: (e: CairnError) => void,
    /** Every answer from the store: the note's row (title, tags, pin, trash) now. */
    private readonly onSummary: (summary: NoteSummary) => void,
  ) {
    this.queue = new SpliceQueue({
      length: () => this.view.state.doc.length,
      applyRemote: (changes, outcome) => this.applyRemote(changes, outcome),
      answered: (_id, outcome) => this.onSummary(outcome.summary),
      failed: (noteId, e) => {
        this.onError(e);
        if (noteId === this.noteId) void this.reloadFromStore();
      },
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
        // One transaction at a time, so a remote one in the same update
        // is not sent back while the local ones are.
        for (const t of u.transactions) {
          if (t.docChanged && !t.annotation(fromStore)) this.queue.push(t.changes);
        }
      }),
    ];
  }

  private makeState(doc: string): EditorState {
    return EditorState.create({ doc, extensions: this.extensions() });
  }

  /** Shows `body`, note `id` at `heads`, with fresh undo history. */
  open(id: string, body: string, heads: string[]): void {
    this.noteId = id;
    this.queue.open(id, heads);
    this.view.setState(this.makeState(body));
  }

  close(): void {
    this.noteId = null;
    this.queue.open(null, []);
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
   * Called when the store reports that note `id` changed other than by
   * this editor. Bursts collapse: one catch-up runs after the edits in
   * flight, and asks the store for its patches since the editor's heads.
   */
  remoteChanged(id: string): void {
    if (id !== this.noteId) return;
    if (!this.remoteStart) this.remoteStart = begin("remote-apply");
    this.queue.catchUp();
  }

  /** Brings the editor level with the store (after a change made elsewhere in the app). */
  catchUp(): void {
    this.queue.catchUp();
  }

  private applyRemote(changes: ChangeSet, outcome: EditOutcome): void {
    this.view.dispatch({
      changes,
      // Remote edits are not the user's to undo; undo history maps
      // through them instead.
      annotations: [fromStore.of(true), Transaction.addToHistory.of(false)],
      userEvent: "remote",
    });
    this.remoteStart?.({ changes: outcome.remote.length, length: this.view.state.doc.length });
    this.remoteStart = null;
  }

  private async reloadFromStore(): Promise<void> {
    const id = this.noteId;
    if (id === null) return;
    try {
      const note = await api.getNote(id);
      if (id === this.noteId) this.open(id, note.body, note.heads);
    } catch (e) {
      this.onError(e as CairnError);
    }
  }
}
