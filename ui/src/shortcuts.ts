// Window-wide shortcuts. They run in the capture phase so they work from the
// editor too; Ctrl+Backspace alone stays "delete word" in the editor, which
// is why trashing a note there takes Ctrl+Shift+Backspace. Formatting keys
// (bold, italic, link, task) belong to the editor: md/format_commands.ts.
// Ctrl+N makes the note in the notebook shown; Ctrl+P is the quick switcher.

import type { App } from "./main";

export function installShortcuts(app: App): void {
  document.addEventListener(
    "keydown",
    (e) => {
      const mod = e.ctrlKey || e.metaKey;
      const inEditor = (e.target as HTMLElement | null)?.closest?.(".cm-editor") != null;
      const key = e.key.toLowerCase();
      let handled = true;
      if (mod && !e.shiftKey && key === "n") void app.create();
      else if (mod && !e.shiftKey && key === "f") app.focusSearch();
      else if (mod && !e.shiftKey && key === "p") app.openSwitcher();
      else if (mod && e.shiftKey && key === "b") app.toggleNav();
      else if (mod && e.shiftKey && key === "h") void app.toggleHistory();
      else if (mod && e.shiftKey && key === "p") void app.togglePin();
      else if (mod && e.shiftKey && key === "t") app.focusTagInput();
      else if (mod && key === ",") void app.account.open();
      else if (mod && (key === "backspace" || key === "delete") && (e.shiftKey || !inEditor)) void app.trash();
      else if (e.altKey && key === "arrowdown") app.list.step(1);
      else if (e.altKey && key === "arrowup") app.list.step(-1);
      else if (key === "escape" && app.history.isOpen) app.history.close();
      else if (mod && !e.shiftKey && key === "z" && app.history.canUndoRestore(app.currentNoteId())) void app.history.undoRestore();
      else handled = false;
      if (handled) {
        e.preventDefault();
        e.stopPropagation();
      }
    },
    { capture: true },
  );
}
