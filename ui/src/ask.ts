// A question before something that cannot be taken back (a note moved out
// of a shared notebook): a small modal dialog, answered with its button or
// dismissed with Cancel or Escape.

import { byId } from "./dom";

const dialog = (): HTMLDialogElement => byId<HTMLDialogElement>("ask-dialog");

/** Shows `question` with `detail`; true when the user chose `yes`. */
export function ask(question: string, detail: string, yes: string): Promise<boolean> {
  const d = dialog();
  byId("ask-question").textContent = question;
  byId("ask-detail").textContent = detail;
  const yesButton = byId<HTMLButtonElement>("ask-yes");
  yesButton.textContent = yes;
  return new Promise((resolve) => {
    const answer = (value: boolean) => {
      yesButton.removeEventListener("click", onYes);
      byId("ask-no").removeEventListener("click", onNo);
      d.removeEventListener("close", onClose);
      if (d.open) d.close();
      resolve(value);
    };
    const onYes = () => answer(true);
    const onNo = () => answer(false);
    // Escape closes the dialog: that is a no.
    const onClose = () => answer(false);
    yesButton.addEventListener("click", onYes);
    byId("ask-no").addEventListener("click", onNo);
    d.addEventListener("close", onClose);
    d.showModal();
    byId<HTMLButtonElement>("ask-no").focus();
  });
}
