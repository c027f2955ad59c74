// The settings dialog's attachment limits: the largest file a note takes,
// and the largest that downloads without its note being opened. In MB;
// the shell keeps them and checks them.

import { api, type AttachmentLimits } from "./api";
import { byId, toast } from "./dom";

const MB = 1_000_000;
let current: AttachmentLimits = { attach_mb: 100, background_mb: 20 };

/** The largest file a paste may attach, in bytes. */
export function attachLimitBytes(): number {
  return current.attach_mb * MB;
}

export class AttachmentSettings {
  private readonly attach = byId<HTMLInputElement>("attach-limit");
  private readonly background = byId<HTMLInputElement>("background-limit");
  private readonly message = byId("attach-limits-msg");

  constructor() {
    for (const input of [this.attach, this.background]) {
      input.addEventListener("change", () => void this.save());
    }
  }

  async load(): Promise<void> {
    current = (await api.settings()).attachments;
    this.show();
  }

  private show(): void {
    this.attach.value = String(current.attach_mb);
    this.background.value = String(current.background_mb);
  }

  private async save(): Promise<void> {
    const want = { attach_mb: Number(this.attach.value), background_mb: Number(this.background.value) };
    if (!Number.isInteger(want.attach_mb) || !Number.isInteger(want.background_mb)) {
      this.message.textContent = "Enter whole megabytes, like 100.";
      return;
    }
    try {
      current = await api.setAttachmentLimits(want);
      this.message.textContent = "Saved.";
    } catch (e) {
      this.message.textContent = "";
      toast(e instanceof Error ? e.message : String(e), "error");
    }
    this.show();
  }
}
