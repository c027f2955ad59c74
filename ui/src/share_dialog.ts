// The share dialog of a notebook (its context menu's "Share…"): this
// account's id with a copy button, inviting someone by their account id
// in two steps (check: their safety number is shown before anything is
// sent; then invite), and the people in the notebook with their roles,
// each removable by the owner with a second click. A key that is not the
// one Cairn saw for someone before is a loud warning, never an invitation.

import { api, CairnError, type InviteeCheck, type Member, type Notebook, type SharedNotebook, type ShareRole } from "./api";
import { ConfirmClick } from "./confirm_click";
import { wireCopyButtons } from "./copy_button";
import { byId, toast } from "./dom";

/** What the dialog tells the window: a notebook shared for the first time
 * takes a new id (`from` became `to`), and its people changed. */
export type SharingChanged = (from: string, to: string) => void;

export function roleWords(role: ShareRole): string {
  return role === "owner" ? "owner" : role === "editor" ? "can edit" : "can only read";
}

/** Groups of five digits, as people read them out; a safety number (two
 * fingerprints of thirty digits) on two lines, one fingerprint each. */
export function groupedDigits(number: string): string {
  const digits = number.replace(/\D+/g, "");
  const group = (d: string) => d.replace(/(\d{5})(?=\d)/g, "$1 ");
  return digits.length === 60 ? `${group(digits.slice(0, 30))}\n${group(digits.slice(30))}` : group(digits);
}

export class ShareDialog {
  private readonly dialog = byId<HTMLDialogElement>("share-dialog");
  private readonly withInput = byId<HTMLInputElement>("share-with");
  private readonly role = byId<HTMLSelectElement>("share-role");
  private readonly error = byId("share-error");
  private readonly warning = byId("share-warning");
  private notebook: Notebook | null = null;
  private shared: SharedNotebook | undefined;
  /** The check shown, waiting for "Invite". */
  private checked: { who: InviteeCheck; role: ShareRole } | null = null;
  private seq = 0;

  constructor(private readonly changed: SharingChanged) {
    wireCopyButtons(this.dialog);
    byId("share-check").addEventListener("click", () => void this.check());
    this.withInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        void this.check();
      }
    });
    byId("share-invite").addEventListener("click", () => void this.invite());
    byId("share-check-cancel").addEventListener("click", () => this.clearCheck());
    // A changed account id is checked again.
    this.withInput.addEventListener("input", () => this.clearCheck());
    this.role.addEventListener("change", () => this.clearCheck());
  }

  async open(notebook: Notebook, shared: SharedNotebook | undefined): Promise<void> {
    this.notebook = notebook;
    this.shared = shared?.shared ? shared : undefined;
    this.withInput.value = "";
    this.error.textContent = "";
    this.clearCheck();
    byId("share-title").textContent = `Share “${notebook.name}”`;
    const owner = !this.shared || this.shared.role === "owner";
    byId("share-invite-section").hidden = !owner;
    byId("share-not-owner").hidden = owner;
    if (!this.dialog.open) this.dialog.showModal();
    await this.load();
  }

  /** Reads what the dialog shows; `data-state` says when it is all in. */
  private async load(): Promise<void> {
    const seq = ++this.seq;
    this.dialog.dataset.state = "loading";
    try {
      const [me, members] = await Promise.all([
        api.sharingIdentity(),
        this.shared && this.notebook ? api.members(this.notebook.id) : Promise.resolve([] as Member[]),
      ]);
      if (seq !== this.seq) return;
      byId("share-my-id").textContent = me.account;
      byId("share-my-id").title = `Your fingerprint: ${groupedDigits(me.fingerprint)}`;
      this.showMembers(members, me.account);
    } catch (e) {
      if (seq === this.seq) this.error.textContent = message(e);
    } finally {
      if (seq === this.seq) this.dialog.dataset.state = "ready";
    }
  }

  private showMembers(members: Member[], me: string): void {
    const list = byId("share-members");
    byId("share-people").setAttribute("aria-busy", "false");
    if (members.length === 0) {
      const li = document.createElement("li");
      li.className = "hint";
      li.textContent = "Not shared with anyone yet.";
      list.replaceChildren(li);
      return;
    }
    const owner = this.shared?.role === "owner";
    list.replaceChildren(
      ...members.map((m) => {
        const li = document.createElement("li");
        li.className = "member-row";
        li.dataset.account = m.account;
        li.dataset.pending = String(m.pending);
        const who = document.createElement("span");
        who.className = "member-name";
        who.textContent = m.account === me ? `${m.account} (you)` : m.account;
        who.title = `Fingerprint: ${groupedDigits(m.fingerprint)}`;
        const role = document.createElement("span");
        role.className = "member-role hint";
        role.textContent = m.pending ? `invited, ${roleWords(m.role)}; has not answered yet` : roleWords(m.role);
        const about = document.createElement("div");
        about.className = "member-text";
        about.append(who, role);
        li.append(about);
        if (owner && m.account !== me) {
          const remove = document.createElement("button");
          remove.className = "member-remove danger";
          remove.textContent = "Remove";
          const armed = new ConfirmClick(
            remove,
            "Remove",
            m.pending ? "Click again to withdraw the invitation" : "Click again to remove",
          );
          remove.addEventListener("click", () => {
            if (armed.confirmed()) void this.remove(m);
          });
          li.append(remove);
        }
        return li;
      }),
    );
  }

  private clearCheck(): void {
    this.checked = null;
    byId("share-check-box").hidden = true;
    this.warning.hidden = true;
    this.warning.textContent = "";
  }

  /** Step one: who the account id is, and the safety number to compare. */
  private async check(): Promise<void> {
    const account = this.withInput.value.trim();
    this.error.textContent = "";
    this.clearCheck();
    if (!account) {
      this.error.textContent = "Enter the account id they gave you.";
      return;
    }
    const role = this.role.value as ShareRole;
    this.dialog.dataset.state = "loading";
    try {
      const who = await api.shareCheck(account);
      this.checked = { who, role };
      byId("share-check-what").textContent = `The safety number for you and ${who.account}:`;
      byId("share-safety").textContent = groupedDigits(who.safety_number);
      byId("share-check-box").hidden = false;
    } catch (e) {
      this.fail(e);
    } finally {
      this.dialog.dataset.state = "ready";
    }
  }

  /** Step two: the invitation, to the identity the check showed. */
  private async invite(): Promise<void> {
    const nb = this.notebook;
    const c = this.checked;
    if (!nb || !c) return;
    this.dialog.dataset.state = "loading";
    try {
      const invited = await api.shareInvite(nb.id, c.who.account, c.role, c.who.fingerprint);
      toast(`Invited ${invited.account}; they can accept it in their Cairn`);
      this.withInput.value = "";
      this.clearCheck();
      this.changed(nb.id, invited.notebook);
      this.notebook = { ...nb, id: invited.notebook };
      this.shared = { notebook: invited.notebook, role: "owner", shared: true, owner: "", members: [] };
      await this.load();
    } catch (e) {
      this.fail(e);
      this.dialog.dataset.state = "ready";
    }
  }

  private async remove(m: Member): Promise<void> {
    const nb = this.notebook;
    if (!nb) return;
    this.dialog.dataset.state = "loading";
    try {
      await api.removeMember(nb.id, m.account);
      toast(
        m.pending
          ? `Withdrew the invitation to ${m.account}`
          : `Removed ${m.account}: what is written from now on is not readable to them`,
      );
      this.changed(nb.id, nb.id);
      await this.load();
    } catch (e) {
      this.fail(e);
      this.dialog.dataset.state = "ready";
    }
  }

  /** A changed key is a warning of its own; anything else an error line. */
  private fail(e: unknown): void {
    if (e instanceof CairnError && (e.code === "key_changed" || e.code === "fingerprint_mismatch")) {
      this.warning.textContent = e.message;
      this.warning.hidden = false;
      byId("share-check-box").hidden = true;
      this.checked = null;
      return;
    }
    this.error.textContent = message(e);
  }
}

function message(e: unknown): string {
  return e instanceof CairnError ? e.message : e instanceof Error ? e.message : String(e);
}
