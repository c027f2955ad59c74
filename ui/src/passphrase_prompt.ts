// The passphrase asked for after another device of the account was removed
// (sync problem key_rotated): the sync indicator's "Enter passphrase" opens
// a small dialog with one field; the shell opens the account's new key with
// it and starts syncing again at once, and the indicator clears by itself
// with the next sync status. A wrong passphrase says so and changes nothing.

import { api, CairnError } from "./api";
import { byId } from "./dom";

export class PassphrasePrompt {
  private readonly dialog = byId<HTMLDialogElement>("passphrase-dialog");
  private readonly secret = byId<HTMLInputElement>("passphrase-secret");
  private readonly error = byId("passphrase-error");
  private readonly ok = byId<HTMLButtonElement>("passphrase-ok");

  constructor() {
    byId("sync-passphrase").addEventListener("click", () => this.open());
    this.ok.addEventListener("click", () => void this.unlock());
    byId("passphrase-cancel").addEventListener("click", () => this.dialog.close());
    this.secret.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        void this.unlock();
      }
    });
    this.dialog.addEventListener("close", () => {
      this.secret.value = "";
    });
  }

  /** Whether the indicator offers the field: only while sync waits for the new key. */
  static offered(needed: boolean): void {
    byId("sync-passphrase").hidden = !needed;
  }

  open(): void {
    this.secret.value = "";
    this.error.textContent = "";
    this.dialog.dataset.state = "ready";
    if (!this.dialog.open) this.dialog.showModal();
    this.secret.focus();
  }

  private async unlock(): Promise<void> {
    if (this.ok.disabled) return;
    this.ok.disabled = true;
    this.dialog.dataset.state = "working";
    this.error.textContent = "Opening your notes' new key…";
    try {
      await api.enterPassphrase(this.secret.value);
      this.dialog.dataset.state = "done";
      this.dialog.close();
    } catch (e) {
      this.error.textContent =
        e instanceof CairnError && e.code === "wrong_passphrase"
          ? "That passphrase does not open your notes. Check it and try again; nothing was changed."
          : e instanceof CairnError
            ? e.message
            : String(e);
      this.dialog.dataset.state = "failed";
      this.secret.select();
      this.secret.focus();
    } finally {
      this.ok.disabled = false;
    }
  }
}
