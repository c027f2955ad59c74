// Formatting from the keyboard: bold, italic, a link, a task. Each is one
// transaction of the user's, so one undo takes it back.

import { EditorSelection, type EditorState } from "@codemirror/state";
import type { EditorView, KeyBinding } from "@codemirror/view";

/** Wraps each selection in `marker` (or unwraps it when already wrapped). */
export function wrapWith(marker: string) {
  return (view: EditorView): boolean => {
    const { state } = view;
    const n = marker.length;
    view.dispatch(
      state.changeByRange((r) => {
        const before = state.sliceDoc(r.from - n, r.from);
        const after = state.sliceDoc(r.to, r.to + n);
        if (before === marker && after === marker) {
          return {
            changes: [
              { from: r.from - n, to: r.from },
              { from: r.to, to: r.to + n },
            ],
            range: EditorSelection.range(r.from - n, r.to - n),
          };
        }
        return {
          changes: [
            { from: r.from, insert: marker },
            { from: r.to, insert: marker },
          ],
          range: EditorSelection.range(r.from + n, r.to + n),
        };
      }),
      { userEvent: "input.format", scrollIntoView: true },
    );
    return true;
  };
}

/** `[selection]()` with the cursor in the parentheses; `[[]]` when nothing is selected. */
export function insertLink(view: EditorView): boolean {
  const { state } = view;
  view.dispatch(
    state.changeByRange((r) => {
      if (r.empty) {
        return { changes: { from: r.from, insert: "[[]]" }, range: EditorSelection.cursor(r.from + 2) };
      }
      const text = state.sliceDoc(r.from, r.to);
      const insert = `[${text}]()`;
      return { changes: { from: r.from, to: r.to, insert }, range: EditorSelection.cursor(r.from + insert.length - 1) };
    }),
    { userEvent: "input.format", scrollIntoView: true },
  );
  return true;
}

const TASK = /^(\s*)(?:([-*+]|\d+[.)])\s+)?(\[[ xX]\]\s+)?/;

/** The change that toggles the line at `pos` through plain → task → done → task. */
function taskChange(state: EditorState, pos: number) {
  const line = state.doc.lineAt(pos);
  const m = TASK.exec(line.text);
  if (!m) return null;
  const indent = m[1].length;
  const listMark = m[2];
  const box = m[3];
  if (box) {
    const at = line.from + m[0].length - box.length + 1;
    return { from: at, to: at + 1, insert: box[1] === " " ? "x" : " " };
  }
  if (listMark) {
    const at = line.from + indent + listMark.length + 1;
    return { from: at, insert: "[ ] " };
  }
  return { from: line.from + indent, insert: "- [ ] " };
}

/** Makes the selected lines tasks, or ticks or unticks them. */
export function toggleTask(view: EditorView): boolean {
  const { state } = view;
  const seen = new Set<number>();
  const changes = [];
  for (const r of state.selection.ranges) {
    for (let n = state.doc.lineAt(r.from).number; n <= state.doc.lineAt(r.to).number; n++) {
      if (seen.has(n)) continue;
      seen.add(n);
      const c = taskChange(state, state.doc.line(n).from);
      if (c) changes.push(c);
    }
  }
  if (changes.length === 0) return false;
  const set = state.changes(changes);
  // A cursor where the marker goes ends up after it, ready to type the task.
  view.dispatch({ changes: set, selection: state.selection.map(set, 1), userEvent: "input.toggle", scrollIntoView: true });
  return true;
}

export const formatKeymap: KeyBinding[] = [
  { key: "Mod-b", run: wrapWith("**") },
  { key: "Mod-i", run: wrapWith("*") },
  { key: "Mod-k", run: insertLink },
  { key: "Mod-l", run: toggleTask },
];
