// Keystroke to paint, measured in the editor: from the key event to the
// first moment after the frame that shows its effect (a task queued from
// requestAnimationFrame runs once that frame is painted). The benchmark
// reads these samples through window.__cairnPerf.

import { EditorView } from "@codemirror/view";
import { begin } from "./perf";

export const keystrokePaint = EditorView.domEventHandlers({
  keydown(e) {
    // Keys that type or delete; shortcuts and movement are not typing.
    if (e.ctrlKey || e.metaKey || e.altKey) return false;
    if (e.key.length !== 1 && e.key !== "Backspace" && e.key !== "Enter" && e.key !== "Delete") return false;
    const done = begin("keystroke-paint");
    requestAnimationFrame(() => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => done({ key: e.key.length === 1 ? "char" : e.key });
      ch.port2.postMessage(null);
    });
    return false;
  },
});
