// `[[` opens a list of note titles that start with what follows it; the
// store answers (titles_starting), so the list covers every note, not only
// the ones on screen. Choosing one closes the link.

import type { CompletionContext, CompletionResult } from "@codemirror/autocomplete";
import type { Backlink } from "../api";

const LIMIT = 20;

export function wikiLinkCompletion(titlesStarting: (prefix: string, limit: number) => Promise<Backlink[]>) {
  return async (cx: CompletionContext): Promise<CompletionResult | null> => {
    const before = cx.matchBefore(/\[\[[^[\]|#\n]*$/);
    if (!before) return null;
    const prefix = before.text.slice(2);
    const from = before.from + 2;
    let found: Backlink[];
    try {
      found = await titlesStarting(prefix, LIMIT);
    } catch (e) {
      console.error("completing a link", e);
      return null;
    }
    if (cx.aborted) return null;
    const closed = cx.state.sliceDoc(cx.pos, cx.pos + 2) === "]]";
    const seen = new Set<string>();
    const options = [];
    for (const n of found) {
      if (!n.title || seen.has(n.title.toLowerCase())) continue;
      seen.add(n.title.toLowerCase());
      options.push({ label: n.title, type: "text", apply: closed ? n.title : `${n.title}]]` });
    }
    // The store matched by prefix already; CodeMirror's own filter would
    // drop titles it ranks differently.
    return { from, options, filter: false };
  };
}
