// A "Copy" button beside text a person must hand on (a key shown once, an
// account id): the text goes to the clipboard, or, in a web view without
// one, is selected for Ctrl+C.

import { byId } from "./dom";

/** Copies the text of the element the button's `data-copies` names. */
export async function copyFrom(button: HTMLButtonElement): Promise<void> {
  const source = byId(button.dataset.copies ?? "");
  try {
    await navigator.clipboard.writeText(source.textContent ?? "");
    button.textContent = "Copied";
  } catch {
    const range = document.createRange();
    range.selectNodeContents(source);
    window.getSelection()?.removeAllRanges();
    window.getSelection()?.addRange(range);
    button.textContent = "Press Ctrl+C";
  }
}

/** Every `button[data-copies]` inside `root` copies its text when clicked. */
export function wireCopyButtons(root: HTMLElement): void {
  for (const button of root.querySelectorAll<HTMLButtonElement>("button[data-copies]")) {
    button.addEventListener("click", () => void copyFrom(button));
  }
}
