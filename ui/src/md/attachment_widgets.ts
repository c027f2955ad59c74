// The widgets the live preview puts in place of references to attachments
// (`![name](attachment:ID)` and `[name](attachment:ID)`): an element that
// carries the id, filled by attachments.ts. Two widgets for one id compare
// equal, so typing around a reference keeps its image loaded.

import { type EditorView, ViewPlugin, WidgetType } from "@codemirror/view";
import { fill, openAttachment } from "../attachments";

export const ATTACHMENT_PREFIX = "attachment:";

abstract class AttachmentWidget extends WidgetType {
  constructor(readonly id: string) {
    super();
  }
  abstract readonly kind: "image" | "file";
  eq(other: AttachmentWidget): boolean {
    return other.id === this.id && other.kind === this.kind;
  }
  toDOM(): HTMLElement {
    const el = document.createElement("span");
    el.className = `cm-att cm-att-${this.kind}`;
    el.dataset.attachment = this.id;
    el.dataset.kind = this.kind;
    el.dataset.testid = `attachment-${this.kind}`;
    fill(el);
    return el;
  }
}

export class ImageWidget extends AttachmentWidget {
  readonly kind = "image";
}

export class FileChipWidget extends AttachmentWidget {
  readonly kind = "file";
  toDOM(): HTMLElement {
    const el = super.toDOM();
    el.setAttribute("role", "button");
    el.tabIndex = -1;
    el.addEventListener("mousedown", (e) => {
      if (e.button !== 0) return;
      e.preventDefault();
      void openAttachment(this.id);
    });
    return el;
  }
  // The chip handles its own click.
  ignoreEvent(): boolean {
    return true;
  }
}

/** The attachment id a link's address names, if it names one. */
export function attachmentIdOf(url: string): string | null {
  if (!url.startsWith(ATTACHMENT_PREFIX)) return null;
  const id = url.slice(ATTACHMENT_PREFIX.length);
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id) ? id : null;
}

/** An image that finished loading made its line taller: the editor measures again. */
export const attachmentResize = ViewPlugin.fromClass(
  class {
    private readonly onResize = () => this.view.requestMeasure();
    constructor(readonly view: EditorView) {
      view.dom.addEventListener("cairn-resized", this.onResize);
    }
    destroy(): void {
      this.view.dom.removeEventListener("cairn-resized", this.onResize);
    }
  },
);
