// The note link at a position: a `[[wikilink]]`, or a Markdown link whose
// destination is a relative path to a `.md` file (links.rs decides the
// same way). Web addresses are not note links.

import type { EditorState } from "@codemirror/state";
import { syntaxTree } from "@codemirror/language";
import type { SyntaxNode } from "@lezer/common";
import { wikiParts } from "./wikilink_syntax";

export interface NoteLink {
  /** The link's text as the store keys it (`follow_link` takes it). */
  text: string;
  heading: string | null;
  from: number;
  to: number;
}

function stripMd(s: string): string {
  return s.replace(/\.(md|markdown)$/i, "");
}

/** Whether a Markdown link destination names another note's file. */
export function isNotePath(dest: string): boolean {
  const path = dest.split("#")[0];
  return (
    path !== "" &&
    !dest.includes("://") &&
    !dest.startsWith("mailto:") &&
    !dest.startsWith("/") &&
    !dest.startsWith("#") &&
    stripMd(path).length !== path.length
  );
}

/** The note link a syntax node is (or is inside), if any. */
export function noteLinkOf(state: EditorState, node: SyntaxNode | null): NoteLink | null {
  for (let n = node; n; n = n.parent) {
    if (n.name === "WikiLink") {
      const parts = wikiParts(state.sliceDoc(n.from + 2, n.to - 2));
      if (!parts.text) return null;
      return { text: parts.text, heading: parts.heading, from: n.from, to: n.to };
    }
    if (n.name === "Link") {
      const url = n.getChild("URL");
      if (!url) return null;
      const dest = state.sliceDoc(url.from, url.to).replace(/^<|>$/g, "");
      if (!isNotePath(dest)) return null;
      const hash = dest.indexOf("#");
      return {
        text: hash >= 0 ? dest.slice(0, hash) : dest,
        heading: hash >= 0 ? decodeURIComponent(dest.slice(hash + 1)) : null,
        from: n.from,
        to: n.to,
      };
    }
  }
  return null;
}

/** The note link at `pos` (looking at the character after it, then before). */
export function noteLinkAt(state: EditorState, pos: number): NoteLink | null {
  const tree = syntaxTree(state);
  return noteLinkOf(state, tree.resolveInner(pos, 1)) ?? noteLinkOf(state, tree.resolveInner(pos, -1));
}
