// "Remove…" on a device of the account: a small dialog that says what
// removing does, asks for the passphrase (or the recovery key of an account
// without one: one field, as sign-in asks), and removes. The shell gives
// the notes a new key first, then signs the device out; a wrong passphrase
// changes nothing. When the new key is made but the device is not yet
// signed out, the dialog says so and "Try again" finishes it without a new
// key; the new recovery key is shown either way, as sign-in shows one.

import { api, CairnError, type DeviceRemoval } from "./api";
import { byId } from "./dom";

export class RemoveDeviceDialog {
  private readonly dialog = byId<HTMLDialogElement>("remove-device-dialog");
  private readonly secret = byId<HTMLInputElement>("remove-device-secret");
  private readonly error = byId("remove-device-error");
  private readonly yes = byId<HTMLButtonElement>("remove-device-yes");
  private device: { id: string; name: string } | null = null;
  /** Set once the new key is made and only the sign-out is left. */
  private unfinished = false;

  /**
   * `removed`: the device is gone from the account (refresh the list);
   * `recoveryKey`: the new recovery key, to show once.
   */
  constructor(
    private readonly removed: () => void,
    private readonly recoveryKey: (key: string) => void,
  ) {
    this.yes.addEventListener("click", () => void this.remove());
    byId("remove-device-no").addEventListener("click", () => this.dialog.close());
    this.secret.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        void this.remove();
      }
    });
    // Escape or Cancel: the passphrase typed does not stay in the page.
    this.dialog.addEventListener("close", () => {
      this.secret.value = "";
      if (this.unfinished) this.removed();
    });
  }

  open(id: string, name: string): void {
    this.device = { id, name };
    this.unfinished = false;
    byId("remove-device-title").textContent = `Remove “${name}”?`;
    this.secret.value = "";
    byId("remove-device-secret-label").hidden = false;
    this.error.textContent = "";
    this.yes.textContent = "Remove";
    this.yes.disabled = false;
    this.dialog.dataset.state = "ready";
    this.dialog.showModal();
    this.secret.focus();
  }

  private async remove(): Promise<void> {
    const device = this.device;
    if (!device || this.yes.disabled) return;
    this.yes.disabled = true;
    this.dialog.dataset.state = "working";
    this.error.textContent = this.unfinished ? "Removing…" : "Giving your notes a new key…";
    try {
      if (this.unfinished) {
        await api.resumeDeviceRemoval(device.id);
        this.done();
      } else {
        this.answered(await api.removeDevice(device.id, this.secret.value));
      }
    } catch (e) {
      this.error.textContent = e instanceof CairnError ? e.message : String(e);
      this.dialog.dataset.state = "failed";
      if (!this.unfinished) {
        this.secret.select();
        this.secret.focus();
      }
    } finally {
      this.yes.disabled = false;
    }
  }

  private answered(r: DeviceRemoval): void {
    this.secret.value = "";
    if (r.recovery_key) this.recoveryKey(r.recovery_key);
    if (r.removed) {
      this.done();
      return;
    }
    // The new key is made: only the sign-out is left, no passphrase again.
    this.unfinished = true;
    byId("remove-device-secret-label").hidden = true;
    this.error.textContent = r.problem ?? "The device is not removed yet. Try again.";
    this.yes.textContent = "Try again";
    this.dialog.dataset.state = "unfinished";
  }

  private done(): void {
    this.unfinished = false;
    this.dialog.dataset.state = "done";
    this.dialog.close();
    this.removed();
  }
}
