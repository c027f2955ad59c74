// The editor's code (CodeMirror and the Markdown preview, four fifths of
// the app's script) is loaded after the list's first screenful, not before
// it: a start waits on the list, and a note opens only once the editor is
// loaded (`App.open` waits for it). Until then nothing is open, so the
// calls about the open note do nothing, and the settings the editor takes
// (the theme, the search's words) are kept for it.

import type { NoteLink } from "./md/link_at";
import type { CairnError, NoteSummary } from "./api";
import type { NoteEditor } from "./editor";

export class LazyEditor {
  private editor: NoteEditor | null = null;
  private loading: Promise<NoteEditor> | null = null;
  private dark = false;
  private found: string[] = [];

  constructor(
    private readonly parent: HTMLElement,
    private readonly onError: (e: CairnError) => void,
    private readonly onSummary: (summary: NoteSummary) => void,
    private readonly onFollow: (link: NoteLink) => void,
  ) {}

  /** Loads the editor's code and makes the editor, once. */
  load(): Promise<NoteEditor> {
    this.loading ??= import("./editor").then(({ NoteEditor }) => {
      const editor = new NoteEditor(this.parent, this.onError, this.onSummary, this.onFollow);
      editor.setDark(this.dark);
      editor.setFound(this.found);
      this.editor = editor;
      return editor;
    });
    return this.loading;
  }

  /** The editor, when loaded. */
  get loaded(): NoteEditor | null {
    return this.editor;
  }

  get openId(): string | null {
    return this.editor?.openId ?? null;
  }

  setDark(dark: boolean): void {
    this.dark = dark;
    this.editor?.setDark(dark);
  }

  setFound(terms: string[], reveal = false): void {
    this.found = terms;
    this.editor?.setFound(terms, reveal);
  }

  close(): void {
    this.editor?.close();
  }

  goToHeading(heading: string): void {
    this.editor?.goToHeading(heading);
  }

  setReadOnly(readOnly: boolean): void {
    this.editor?.setReadOnly(readOnly);
  }

  focus(): void {
    this.editor?.focus();
  }

  flushed(): Promise<void> {
    return this.editor?.flushed() ?? Promise.resolve();
  }

  remoteChanged(id: string): void {
    this.editor?.remoteChanged(id);
  }

  catchUp(): void {
    this.editor?.catchUp();
  }

  dropFiles(paths: string[], x: number, y: number): void {
    if (this.editor) this.editor.dropFiles(paths, x, y);
    else void this.load().then((e) => e.dropFiles(paths, x, y));
  }
}
