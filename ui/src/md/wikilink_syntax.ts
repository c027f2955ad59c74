// `[[Title]]`, `[[Title|shown]]` and `[[Title#Heading]]` as nodes of the
// Markdown syntax tree, so the live preview and link following find them
// the way they find ordinary links. What counts as a link matches the
// core's parser (crates/cairn-core/src/links.rs): no `[` inside, on one line.

import type { MarkdownConfig } from "@lezer/markdown";
import { tags } from "@lezer/highlight";

const OPEN = 91; // [

export const wikiLinkSyntax: MarkdownConfig = {
  defineNodes: [
    { name: "WikiLink", style: tags.link },
    { name: "WikiLinkMark", style: tags.processingInstruction },
  ],
  parseInline: [
    {
      name: "WikiLink",
      parse(cx, next, pos) {
        if (next !== OPEN || cx.char(pos + 1) !== OPEN) return -1;
        const rest = cx.slice(pos + 2, cx.end);
        const close = rest.indexOf("]]");
        if (close < 0) return -1;
        const inner = rest.slice(0, close);
        if (inner.includes("[") || inner.includes("\n")) return -1;
        const end = pos + 2 + close + 2;
        return cx.addElement(
          cx.elt("WikiLink", pos, end, [cx.elt("WikiLinkMark", pos, pos + 2), cx.elt("WikiLinkMark", end - 2, end)]),
        );
      },
      before: "Link",
    },
  ],
};

/** The parts of a wikilink's inner text (between `[[` and `]]`). */
export interface WikiParts {
  /** The link's text as the store keys it: the target before `#`, trimmed. */
  text: string;
  heading: string | null;
  /** Offset in `inner` where the shown text starts (after `|`), or 0. */
  shownFrom: number;
  alias: string | null;
}

export function wikiParts(inner: string): WikiParts {
  const bar = inner.indexOf("|");
  const target = bar >= 0 ? inner.slice(0, bar) : inner;
  const alias = bar >= 0 ? inner.slice(bar + 1).trim() || null : null;
  const hash = target.indexOf("#");
  const text = (hash >= 0 ? target.slice(0, hash) : target).trim();
  const heading = hash >= 0 ? target.slice(hash + 1).trim() || null : null;
  return { text, heading, alias, shownFrom: alias !== null ? bar + 1 : 0 };
}
