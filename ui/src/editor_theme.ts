// The editor's colours for the light and the dark theme. Everything comes
// from style.css's variables, so the editor, its find panel and its
// completions follow the window's theme; `dark` also tells CodeMirror which
// of its own base styles to use (its find panel buttons, for one).

import { Compartment, type Extension } from "@codemirror/state";
import { EditorView } from "@codemirror/view";

/** Swapped when the theme changes, without rebuilding the editor. */
export const themeSlot = new Compartment();

export function editorTheme(dark: boolean): Extension {
  return EditorView.theme(
    {
      "&": { color: "var(--fg)", backgroundColor: "var(--bg)" },
      ".cm-content": { caretColor: "var(--fg)" },
      ".cm-cursor, .cm-dropCursor": { borderLeftColor: "var(--fg)", borderLeftWidth: "2px" },
      ".cm-selectionBackground, &.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-content ::selection":
        { backgroundColor: "var(--bg-selected)" },
      ".cm-selectionMatch": { backgroundColor: "color-mix(in srgb, var(--accent) 22%, transparent)" },
      ".cm-searchMatch": { backgroundColor: "var(--mark-bg)", color: "var(--mark-fg)", outline: "none" },
      ".cm-searchMatch.cm-searchMatch-selected": { outline: "2px solid var(--accent)" },
      // The notes search's matches in the open note (search_marks.ts).
      ".cm-found": { backgroundColor: "var(--mark-bg)", color: "var(--mark-fg)", borderRadius: "2px" },
      ".cm-panels": { backgroundColor: "var(--bg-side)", color: "var(--fg)" },
      ".cm-panels-top": { borderBottom: "1px solid var(--border)" },
      ".cm-panels-bottom": { borderTop: "1px solid var(--border)" },
      ".cm-panel.cm-search label": { color: "var(--fg)", fontSize: "13px" },
      ".cm-panel.cm-search [name=close]": { color: "var(--fg)" },
      ".cm-textfield": {
        backgroundColor: "var(--bg)",
        color: "var(--fg)",
        border: "1px solid var(--border)",
        borderRadius: "4px",
      },
      ".cm-button": {
        backgroundImage: "none",
        backgroundColor: "var(--bg)",
        color: "var(--fg)",
        border: "1px solid var(--border)",
        borderRadius: "4px",
      },
      ".cm-button:active": { backgroundColor: "var(--bg-hover)" },
      ".cm-tooltip": { backgroundColor: "var(--bg)", color: "var(--fg)", border: "1px solid var(--border)" },
      ".cm-tooltip-autocomplete ul li[aria-selected]": { backgroundColor: "var(--bg-selected)", color: "var(--fg)" },
      ".cm-placeholder": { color: "var(--fg-muted)" },
    },
    { dark },
  );
}
