// Invitations waiting for this account: a line in the sidebar ("1
// invitation") that opens a list, each with the notebook's name, who
// sent it, the role, the safety number to compare, and Accept / Decline.
// Read at the start, whenever the shell says sharing changed (an
// invitation's record reached this device), and after each answer.

import { api, CairnError, type Invitation } from "./api";
import { byId, toast } from "./dom";
import { groupedDigits, roleWords } from "./share_dialog";

export class InvitationsView {
  private readonly banner = byId<HTMLButtonElement>("invitations-banner");
  private readonly dialog = byId<HTMLDialogElement>("invitations-dialog");
  private readonly error = byId("invitations-error");
  private pending: Invitation[] = [];
  private unreadable = 0;
  private seq = 0;

  /** `joined` is told the shared notebook's id once one is accepted. */
  constructor(private readonly joined: (notebook: string, name: string) => void) {
    this.banner.addEventListener("click", () => this.open());
  }

  /** Reads the invitations again; signed out (or offline), shows none. */
  async refresh(): Promise<void> {
    const seq = ++this.seq;
    try {
      const found = await api.invitations();
      if (seq !== this.seq) return;
      this.pending = found.pending;
      this.unreadable = found.unreadable;
    } catch (e) {
      if (seq !== this.seq) return;
      // Not signed in, or no encryption yet: nobody can have invited
      // this device's account to anything it could open.
      if (e instanceof CairnError && (e.code === "not_signed_in" || e.code === "not_encrypted")) {
        this.pending = [];
        this.unreadable = 0;
      } else {
        console.error("reading invitations", e);
        return;
      }
    }
    this.show();
  }

  private show(): void {
    const n = this.pending.length;
    this.banner.hidden = n === 0;
    byId("invitations-count").textContent = n === 1 ? "1 invitation" : `${n} invitations`;
    this.banner.dataset.count = String(n);
    if (this.dialog.open) this.drawList();
  }

  private open(): void {
    this.error.textContent = "";
    this.drawList();
    if (!this.dialog.open) this.dialog.showModal();
  }

  private drawList(): void {
    const list = byId("invitations-list");
    const rows = this.pending.map((i) => {
      const li = document.createElement("li");
      li.className = "invitation-row";
      li.dataset.id = i.id;
      const what = document.createElement("p");
      what.className = "invitation-what";
      const name = i.notebook ? `“${i.notebook}”` : "A notebook";
      what.textContent = `${name} from ${i.from}: you ${roleWords(i.role)}`;
      const safety = document.createElement("p");
      safety.className = "hint safety-line";
      safety.textContent = `Safety number:\n${groupedDigits(i.safety_number)}`;
      const row = document.createElement("div");
      row.className = "row";
      const accept = document.createElement("button");
      accept.className = "primary invitation-accept";
      accept.textContent = "Accept";
      accept.addEventListener("click", () => void this.answer(i, true));
      const decline = document.createElement("button");
      decline.className = "invitation-decline";
      decline.textContent = "Decline";
      decline.addEventListener("click", () => void this.answer(i, false));
      row.append(accept, decline);
      li.append(what, safety, row);
      return li;
    });
    if (this.unreadable > 0) {
      const li = document.createElement("li");
      li.className = "error";
      li.textContent =
        this.unreadable === 1
          ? "One more invitation could not be verified and is not shown; it may have been tampered with."
          : `${this.unreadable} more invitations could not be verified and are not shown; they may have been tampered with.`;
      rows.push(li);
    }
    if (rows.length === 0) {
      const li = document.createElement("li");
      li.className = "hint";
      li.textContent = "No invitations.";
      rows.push(li);
    }
    list.replaceChildren(...rows);
  }

  private async answer(i: Invitation, accept: boolean): Promise<void> {
    this.error.textContent = "";
    this.dialog.dataset.state = "loading";
    try {
      if (accept) {
        const notebook = await api.acceptInvitation(i.id);
        const name = i.notebook ?? "the shared notebook";
        toast(`Joined “${name}”; its notes are on their way`);
        this.joined(notebook, name);
      } else {
        await api.declineInvitation(i.id);
        toast("Declined");
      }
      this.pending = this.pending.filter((p) => p.id !== i.id);
      this.show();
      if (this.pending.length === 0 && this.unreadable === 0) this.dialog.close();
      void this.refresh();
    } catch (e) {
      this.error.textContent = e instanceof CairnError ? e.message : String(e);
    } finally {
      this.dialog.dataset.state = "ready";
    }
  }
}
