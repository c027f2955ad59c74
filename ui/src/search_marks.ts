// The notes search's matches marked in the open note (CodeMirror
// decorations, not selections: the cursor stays where it was).

import { Compartment, type Extension } from "@codemirror/state";
import { Decoration, EditorView, MatchDecorator, ViewPlugin, type DecorationSet, type ViewUpdate } from "@codemirror/view";
import { termsPattern } from "./highlight";

/** Swapped when the search changes. */
export const foundSlot = new Compartment();

const mark = Decoration.mark({ class: "cm-found" });

export function foundMarks(terms: string[]): Extension {
  const regexp = termsPattern(terms);
  if (!regexp) return [];
  const decorator = new MatchDecorator({ regexp, decoration: () => mark });
  return ViewPlugin.fromClass(
    class {
      decorations: DecorationSet;
      constructor(view: EditorView) {
        this.decorations = decorator.createDeco(view);
      }
      update(u: ViewUpdate): void {
        this.decorations = decorator.updateDeco(u, this.decorations);
      }
    },
    { decorations: (v) => v.decorations },
  );
}

/** Where the first match is in `text`, if anywhere. */
export function firstMatch(text: string, terms: string[]): number | null {
  const re = termsPattern(terms);
  if (!re) return null;
  const m = re.exec(text);
  return m ? m.index : null;
}
