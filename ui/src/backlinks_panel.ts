// Under the open note: the notes that link to it, each a button that
// opens it. Read again when the note opens and after changes, since
// another note (here or on another device) may have gained a link to it.

import { api, type Backlink } from "./api";
import { byId } from "./dom";

export class BacklinksPanel {
  private readonly root = byId("backlinks");
  private readonly list = byId("backlinks-list");
  private noteId: string | null = null;
  private seq = 0;
  /** What is drawn now, so a refresh that finds the same draws nothing. */
  private drawn = "";

  constructor(private readonly onOpen: (id: string) => void) {
    this.list.addEventListener("click", (e) => {
      const b = (e.target as HTMLElement).closest<HTMLElement>("[data-id]");
      if (b?.dataset.id) this.onOpen(b.dataset.id);
    });
  }

  async show(noteId: string | null): Promise<void> {
    this.noteId = noteId;
    const asked = ++this.seq;
    if (noteId === null) {
      this.render([]);
      return;
    }
    let links: Backlink[];
    try {
      links = await api.backlinks(noteId);
    } catch (e) {
      // A note just deleted has none; nothing to tell the user.
      console.error("reading backlinks", e);
      links = [];
    }
    if (asked === this.seq) this.render(links);
  }

  refresh(): void {
    void this.show(this.noteId);
  }

  private render(links: Backlink[]): void {
    // Refreshed after every burst of changes, typing included: redrawing
    // the same buttons each time would cost the editor frames.
    const key = JSON.stringify(links);
    if (key === this.drawn) return;
    this.drawn = key;
    this.root.dataset.count = String(links.length);
    this.root.hidden = links.length === 0;
    byId("backlinks-count").textContent = `Linked from ${links.length} ${links.length === 1 ? "note" : "notes"}`;
    this.list.replaceChildren(
      ...links.map((l) => {
        const b = document.createElement("button");
        b.className = "backlink";
        b.dataset.id = l.id;
        b.dataset.testid = "backlink";
        b.textContent = l.title || "Untitled";
        return b;
      }),
    );
  }
}
