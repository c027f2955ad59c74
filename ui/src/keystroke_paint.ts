// Keystroke to paint, measured in the editor: from the key event to the
// first moment after the frame that shows its effect (a task queued from
// requestAnimationFrame runs once that frame is painted). The benchmark
// reads these samples through window.__cairnPerf.
//
// Each sample also says where its time went, so a slow keystroke can be
// told apart from a slow frame: `update_ms` from the key to the end of the
// editor's update for it (the input read back from the page, parsing,
// decorations), `frame_ms` from there to the frame's start, and
// `paint_ms` the frame itself (style, layout, paint).

import { EditorView } from "@codemirror/view";
import { begin } from "./perf";

/** The keystroke being measured: when it came, and when its update ended. */
let current: { at: number; updated: number | null } | null = null;

const keys = EditorView.domEventHandlers({
  keydown(e) {
    // Keys that type or delete; shortcuts and movement are not typing.
    if (e.ctrlKey || e.metaKey || e.altKey) return false;
    if (e.key.length !== 1 && e.key !== "Backspace" && e.key !== "Enter" && e.key !== "Delete") return false;
    const done = begin("keystroke-paint");
    const mine = { at: performance.now(), updated: null as number | null };
    current = mine;
    requestAnimationFrame(() => {
      const frame = performance.now();
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        const updated = mine.updated ?? frame;
        done({
          key: e.key.length === 1 ? "char" : e.key,
          update_ms: updated - mine.at,
          frame_ms: frame - updated,
          paint_ms: performance.now() - frame,
        });
        if (current === mine) current = null;
      };
      ch.port2.postMessage(null);
    });
    return false;
  },
});

const updates = EditorView.updateListener.of((u) => {
  if (u.docChanged && current && current.updated === null) current.updated = performance.now();
});

export const keystrokePaint = [keys, updates];
