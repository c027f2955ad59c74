// The words a search matched, marked in the text shown: the list's titles
// and passages here, the open note through search_marks.ts. A match is a
// word that starts with one of the terms, as the index matches them.

/** The pattern of the terms (longest first), or null when there are none. */
export function termsPattern(terms: string[]): RegExp | null {
  const words = [...new Set(terms.filter((t) => t.length > 0))].sort((a, b) => b.length - a.length);
  if (words.length === 0) return null;
  const escaped = words.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`(?<![\\p{L}\\p{N}_])(?:${escaped.join("|")})`, "giu");
}

/** Fills `el` with `text`, the matches of `pattern` in <mark>. */
export function fillHighlighted(el: HTMLElement, text: string, pattern: RegExp | null): void {
  if (!pattern) {
    el.textContent = text;
    return;
  }
  const parts: Node[] = [];
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    const at = m.index ?? 0;
    if (m[0].length === 0) continue;
    if (at > last) parts.push(document.createTextNode(text.slice(last, at)));
    const mark = document.createElement("mark");
    mark.textContent = m[0];
    parts.push(mark);
    last = at + m[0].length;
  }
  if (last < text.length) parts.push(document.createTextNode(text.slice(last)));
  el.replaceChildren(...parts);
}
