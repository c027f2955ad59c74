// The Markdown editor: CodeMirror 6 plus the two directions of sync with the
// store (splice_queue.ts). Local edits leave as splices in UTF-16 indexes
// (CodeMirror's own positions) with the heads they were made at. Remote
// edits come back as the store's own patches since those heads, applied as
// one transaction that is not the user's to undo, so the cursor and the
// selection map through them.

import { Annotation, ChangeSet, EditorState, Prec, Transaction, type Extension } from "@codemirror/state";
import { EditorView, keymap, drawSelection, highlightActiveLine, placeholder } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { markdown, markdownLanguage } from "@codemirror/lang-markdown";
import { languages } from "@codemirror/language-data";
import { autocompletion, completionStatus } from "@codemirror/autocomplete";
import { searchKeymap, highlightSelectionMatches, openSearchPanel } from "@codemirror/search";
import { syntaxHighlighting } from "@codemirror/language";
import { classHighlighter } from "@lezer/highlight";
import { api, type CairnError, type EditOutcome, type NoteSummary } from "./api";
import { SpliceQueue } from "./splice_queue";
import { begin } from "./perf";
import { wikiLinkSyntax } from "./md/wikilink_syntax";
import { livePreview, taskClicks } from "./md/live_preview";
import { tables, tableClicks } from "./md/tables";
import { linkTargets, setLinkTargets } from "./md/link_targets";
import { noteLinkAt, type NoteLink } from "./md/link_at";
import { formatKeymap } from "./md/format_commands";
import { wikiLinkCompletion } from "./md/wikilink_completion";
import { keystrokePaint } from "./keystroke_paint";
import { editorTheme, themeSlot } from "./editor_theme";
import { firstMatch, foundMarks, foundSlot } from "./search_marks";
import { attachmentResize } from "./md/attachment_widgets";
import { attachDropped, attachPasted, type AttachRefused } from "./attach_input";
import { toast } from "./dom";

/** Marks transactions that came from the store, so they are not sent back. */
const fromStore = Annotation.define<boolean>();

// Ctrl+F belongs to the notes search; find-in-note moves to Ctrl+Shift+F.
const noteSearchKeymap = [
  { key: "Mod-Shift-f", run: openSearchPanel },
  ...searchKeymap.filter((b) => b.key !== "Mod-f"),
];

/** How long after the last answer from the store its links are read again. */
const LINKS_DELAY_MS = 250;

export class NoteEditor {
  readonly view: EditorView;
  private noteId: string | null = null;
  private remoteStart: ((d?: Record<string, number | string>) => number) | null = null;
  private readonly queue: SpliceQueue;
  /** The window's theme is dark (the editor's colours follow it). */
  private dark = false;
  /** The notes search's words, marked in every note opened while it lasts. */
  private found: string[] = [];

  constructor(
    parent: HTMLElement,
    private readonly onError: (e: CairnError) => void,
    /** Every answer from the store: the note's row (title, tags, pin, trash) now. */
    private readonly onSummary: (summary: NoteSummary) => void,
    /** Ctrl/Cmd+click or Enter on a link to another note. */
    private readonly onFollow: (link: NoteLink) => void,
  ) {
    this.queue = new SpliceQueue({
      length: () => this.view.state.doc.length,
      applyRemote: (changes, outcome) => this.applyRemote(changes, outcome),
      answered: (id, outcome) => {
        this.onSummary(outcome.summary);
        if (id === this.noteId) this.refreshLinks();
      },
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
      themeSlot.of(editorTheme(this.dark)),
      foundSlot.of(foundMarks(this.found)),
      history(),
      drawSelection(),
      highlightActiveLine(),
      highlightSelectionMatches(),
      EditorView.lineWrapping,
      markdown({ base: markdownLanguage, codeLanguages: languages, extensions: [wikiLinkSyntax] }),
      // Token classes (tok-*), coloured by style.css for light and dark.
      syntaxHighlighting(classHighlighter),
      linkTargets,
      livePreview,
      tables,
      taskClicks,
      tableClicks,
      attachmentResize,
      this.linkClicks(),
      this.pastedFiles(),
      autocompletion({
        override: [wikiLinkCompletion(api.titlesStarting)],
        activateOnTyping: true,
        // Enter takes the title as soon as the list shows: inside an
        // unclosed `[[` a new line is hardly ever what was meant.
        interactionDelay: 0,
      }),
      placeholder("Start writing…"),
      // Above Markdown's Enter (which continues a list), below the
      // completion's (which picks the highlighted title).
      Prec.highest(
        keymap.of([
          ...formatKeymap,
          { key: "Enter", run: (v) => this.followAtCursor(v, true) },
          { key: "Mod-Enter", run: (v) => this.followAtCursor(v, false) },
        ]),
      ),
      keymap.of([
        ...noteSearchKeymap,
        ...defaultKeymap,
        ...historyKeymap,
        indentWithTab,
      ]),
      keystrokePaint,
      EditorView.contentAttributes.of({
        "data-testid": "editor",
        spellcheck: "true",
        // Screen readers name the text box; CodeMirror gives it none.
        "aria-label": "Note text",
        "aria-multiline": "true",
      }),
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

  /** Ctrl/Cmd+click on a note link follows it instead of placing the cursor. */
  private linkClicks(): Extension {
    return EditorView.domEventHandlers({
      mousedown: (e, view) => {
        if (!(e.ctrlKey || e.metaKey) || e.button !== 0) return false;
        const pos = view.posAtCoords({ x: e.clientX, y: e.clientY });
        if (pos === null) return false;
        const link = noteLinkAt(view.state, pos);
        if (!link) return false;
        e.preventDefault();
        this.onFollow(link);
        return true;
      },
    });
  }

  /** Files in a paste (a screenshot, say) become attachments at the cursor. */
  private pastedFiles(): Extension {
    return EditorView.domEventHandlers({
      paste: (e) => {
        const files = [...(e.clipboardData?.files ?? [])];
        if (files.length === 0 || this.noteId === null) return false;
        e.preventDefault();
        void this.attach(this.noteId, () => attachPasted(this.noteId ?? "", files), null);
        return true;
      },
    });
  }

  /**
   * Files dropped on the window at (x, y) in page pixels: attached, their
   * references put where they fell (at the cursor when that is not text).
   */
  dropFiles(paths: string[], x: number, y: number): void {
    if (this.noteId === null) {
      toast("Open a note to attach files to it.");
      return;
    }
    const at = this.view.posAtCoords({ x, y });
    void this.attach(this.noteId, () => attachDropped(this.noteId ?? "", paths), at);
  }

  private async attach(
    noteId: string,
    store: () => Promise<{ reference: string }[]>,
    at: number | null,
  ): Promise<void> {
    if (this.readOnly) {
      toast("Files cannot be attached to this note: you can only view it.", "error");
      return;
    }
    let attached: { reference: string }[];
    try {
      attached = await store();
    } catch (e) {
      const refused = e as AttachRefused | CairnError;
      toast(refused.message, "error");
      return;
    }
    // The user may have moved to another note meanwhile: the records are
    // in the note either way; the references go only where they belong.
    if (noteId !== this.noteId || attached.length === 0) return;
    const text = attached.map((a) => a.reference).join("\n");
    const pos = Math.min(at ?? this.view.state.selection.main.head, this.view.state.doc.length);
    this.view.dispatch({
      changes: { from: pos, insert: text },
      selection: { anchor: pos + text.length },
      userEvent: "input.paste",
      scrollIntoView: true,
    });
  }

  /**
   * Enter inside a link (not at its ends, where it still starts a new
   * line) follows it; Ctrl/Cmd+Enter anywhere on it does.
   */
  private followAtCursor(view: EditorView, strictlyInside: boolean): boolean {
    const sel = view.state.selection;
    if (sel.ranges.length !== 1 || !sel.main.empty || this.noteId === null) return false;
    if (completionStatus(view.state) === "active") return false;
    const head = sel.main.head;
    const link = noteLinkAt(view.state, head);
    if (!link) return false;
    if (strictlyInside && (head <= link.from || head >= link.to)) return false;
    this.onFollow(link);
    return true;
  }

  private linksTimer = 0;

  /** Reads again which of the note's links lead to a note (debounced). */
  refreshLinks(): void {
    window.clearTimeout(this.linksTimer);
    this.linksTimer = window.setTimeout(() => void this.loadLinks(), LINKS_DELAY_MS);
  }

  private async loadLinks(): Promise<void> {
    const id = this.noteId;
    if (id === null) return;
    try {
      const links = await api.noteLinks(id);
      if (id !== this.noteId) return;
      const map = new Map<string, boolean>();
      for (const l of links) map.set(l.text, l.target_id !== null);
      this.view.dispatch({ effects: setLinkTargets.of(map) });
    } catch (e) {
      // Styling only: a link shown plainly is not worth an error message.
      console.error("reading the note's links", e);
    }
  }

  private makeState(doc: string): EditorState {
    return EditorState.create({ doc, extensions: this.extensions() });
  }

  /** Shows `body`, note `id` at `heads`, with fresh undo history. */
  open(id: string, body: string, heads: string[]): void {
    this.noteId = id;
    this.queue.open(id, heads);
    this.view.setState(this.makeState(body));
    void this.loadLinks();
  }

  /** Moves the cursor to the heading `heading` (a link's `#Heading`). */
  goToHeading(heading: string): void {
    const want = heading.trim().toLowerCase();
    const doc = this.view.state.doc;
    for (let n = 1; n <= doc.lines; n++) {
      const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(doc.line(n).text);
      if (m && m[1].toLowerCase() === want) {
        this.view.dispatch({ selection: { anchor: doc.line(n).from }, scrollIntoView: true });
        return;
      }
    }
  }

  close(): void {
    this.noteId = null;
    this.queue.open(null, []);
    this.view.setState(this.makeState(""));
  }

  /**
   * Marks the search's words (none: no marks) in this note and those
   * opened later; `reveal` scrolls the first match into view.
   */
  setFound(terms: string[], reveal = false): void {
    if (terms.join("\n") !== this.found.join("\n")) {
      this.found = terms;
      this.view.dispatch({ effects: foundSlot.reconfigure(foundMarks(terms)) });
    }
    const at = reveal ? firstMatch(this.view.state.doc.toString(), terms) : null;
    if (at !== null) this.view.dispatch({ effects: EditorView.scrollIntoView(at, { y: "center" }) });
  }

  /** Light or dark colours, now and for every note opened later. */
  setDark(dark: boolean): void {
    if (dark === this.dark) return;
    this.dark = dark;
    this.view.dispatch({ effects: themeSlot.reconfigure(editorTheme(dark)) });
  }

  setReadOnly(readOnly: boolean): void {
    this.readOnly = readOnly;
    this.view.contentDOM.setAttribute("contenteditable", readOnly ? "false" : "true");
  }

  /** A viewer's note or one in the trash: no typing, and no files added. */
  private readOnly = false;

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
