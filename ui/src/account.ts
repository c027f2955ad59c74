// Account dialog: create an account or sign in (account key or GitHub),
// sign out, the account's devices (renamed in place, or removed through
// remove_device.ts), the keys shown once
// with a copy button and an "I have saved it" step, and the passphrase.
// The sync service is typed in one place, the sign-in form; the shell
// remembers the one last used.

import { api, events, CairnError, type AccountStatus } from "./api";
import { byId, toast } from "./dom";
import { wireCopyButtons } from "./copy_button";
import { RemoveDeviceDialog } from "./remove_device";

const lastSeen = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export class AccountDialog {
  private readonly dialog = byId<HTMLDialogElement>("account-dialog");
  private readonly signinUrl = byId<HTMLInputElement>("signin-url");
  private readonly signinKey = byId<HTMLInputElement>("signin-key");
  private readonly signinPassphrase = byId<HTMLInputElement>("signin-passphrase");
  private readonly signinDevice = byId<HTMLInputElement>("signin-device-name");
  private readonly signinError = byId("signin-error");
  /** Whether the sign-in under way set a passphrase (the recovery key's text depends on it). */
  private passphraseSet = false;
  private readonly removeDevice = new RemoveDeviceDialog(
    () => void this.showDevicesAgain(),
    (key) => {
      this.secrets = { recovery: key, passphraseSet: true, rotated: true };
      this.showSecretsKept();
      byId("recovery-key-box").scrollIntoView({ block: "nearest" });
    },
  );

  constructor() {
    byId("signin-key-btn").addEventListener("click", () =>
      void this.signIn(() =>
        api.signInWithKey(
          this.signinUrl.value.trim(),
          this.signinKey.value,
          this.signinPassphrase.value,
          this.signinDevice.value,
        ),
      ),
    );
    byId("create-account-btn").addEventListener("click", () =>
      void this.signIn(() =>
        api.createAccount(this.signinUrl.value.trim(), this.signinPassphrase.value, this.signinDevice.value),
      ),
    );
    wireCopyButtons(this.dialog);
    byId("secrets-saved-btn").addEventListener("click", () => {
      this.secrets = null;
      byId("account-key-box").hidden = true;
      byId("recovery-key-box").hidden = true;
      byId("secrets-saved-row").hidden = true;
      byId("account-key").textContent = "";
      byId("recovery-key").textContent = "";
    });
    byId("signin-github-btn").addEventListener("click", () => void this.signInWithGithub());
    byId("github-cancel").addEventListener("click", () => void api.cancelGithubSignIn());
    // The browser is out: offer the page itself, in case none opened.
    void events.githubStarted((url) => {
      byId<HTMLAnchorElement>("github-link").href = url;
      byId<HTMLInputElement>("github-url").value = url;
      byId("github-waiting").hidden = false;
    });
    // A web view does not open pages itself: the app asks the system to.
    byId("github-link").addEventListener("click", (e) => {
      e.preventDefault();
      api.openGithubSignInPage().catch((err: unknown) => {
        this.signinError.textContent = err instanceof CairnError ? err.message : String(err);
      });
    });
    byId<HTMLInputElement>("github-url").addEventListener("focus", (e) =>
      (e.target as HTMLInputElement).select(),
    );
    byId("pass-change-btn").addEventListener("click", () => void this.changePassphrase());
    byId("signout-btn").addEventListener("click", () => void this.signOut());
  }

  async open(): Promise<void> {
    if (!this.dialog.open) this.dialog.showModal();
    await this.refresh();
  }

  /** Reads everything the dialog shows; `data-state` says when it is all in. */
  private async refresh(): Promise<void> {
    const seq = ++this.refreshSeq;
    this.dialog.dataset.state = "loading";
    try {
      await this.load();
    } finally {
      if (seq === this.refreshSeq) this.dialog.dataset.state = "ready";
    }
  }

  private refreshSeq = 0;

  private async load(): Promise<void> {
    try {
      const [settings, account, info, defaults] = await Promise.all([
        api.settings(),
        api.account(),
        api.appInfo(),
        api.signInDefaults(),
      ]);
      // Prefilled only: signing in needs the passphrase, which only the
      // user knows.
      if (!this.signinUrl.value) this.signinUrl.value = defaults.service_url ?? settings.service_url;
      if (!this.signinKey.value && defaults.account_key) this.signinKey.value = defaults.account_key;
      if (!this.signinDevice.value) this.signinDevice.value = defaults.device_name;
      byId("data-dir").textContent = `Notes are stored in ${info.data_dir} · Cairn ${info.version}`;
      await this.showAccount(account);
    } catch (e) {
      this.signinError.textContent = (e as Error).message;
    }
  }

  private async showAccount(a: AccountStatus): Promise<void> {
    byId("signed-out").hidden = a.signed_in;
    byId("signed-in").hidden = !a.signed_in;
    if (!a.signed_in) return;
    byId("account-summary").textContent = a.account_label ?? "Signed in";
    byId("account-summary").title = a.user ?? "";
    this.showSecrets(a);
    const shareId = this.showShareId();
    const box = byId("devices");
    const list = byId("device-list");
    const err = byId("devices-error");
    // The old list stays until the new one is here, in a box of fixed
    // height: nothing around it moves while it loads.
    box.setAttribute("aria-busy", "true");
    try {
      const items = (await api.devices()).map((d) => {
        const li = document.createElement("li");
        li.className = "device-row";
        li.dataset.id = d.id;
        const seen = d.last_seen_ms ? ` · last seen ${lastSeen.format(new Date(d.last_seen_ms))}` : "";
        const label = document.createElement("span");
        label.className = "device-name";
        label.textContent = `${d.name}${d.this_device ? " (this device)" : ""}${seen}`;
        label.title = d.id;
        const rename = document.createElement("button");
        rename.className = "device-rename link-button";
        rename.textContent = "Rename";
        rename.addEventListener("click", () => this.startRename(li, d.name));
        li.append(label, rename);
        if (!d.this_device) {
          const remove = document.createElement("button");
          remove.className = "device-remove link-button";
          remove.textContent = "Remove…";
          remove.setAttribute("aria-label", `Remove ${d.name}…`);
          remove.addEventListener("click", () => this.removeDevice.open(d.id, d.name));
          li.append(remove);
        }
        return li;
      });
      list.replaceChildren(...items);
      err.textContent = "";
    } catch (e) {
      list.replaceChildren();
      err.textContent = (e as Error).message;
    } finally {
      box.setAttribute("aria-busy", "false");
    }
    await shareId;
  }

  /** The account id people need to share with this account (asking for
   * it also sets up this account's sharing identity with the service). */
  private async showShareId(): Promise<void> {
    const err = byId("account-share-error");
    try {
      const me = await api.sharingIdentity();
      byId("account-share-id").textContent = me.account;
      byId("account-share-id").title = `Your fingerprint: ${me.fingerprint}`;
      err.textContent = "";
    } catch (e) {
      err.textContent = e instanceof CairnError ? e.message : String(e);
    }
  }

  private async signIn(f: () => Promise<AccountStatus>): Promise<void> {
    this.signinError.textContent = "";
    this.passphraseSet = this.signinPassphrase.value.length > 0;
    try {
      const account = await f();
      this.signinKey.value = "";
      this.signinPassphrase.value = "";
      const seq = ++this.refreshSeq;
      this.dialog.dataset.state = "loading";
      try {
        await this.showAccount(account);
      } finally {
        if (seq === this.refreshSeq) this.dialog.dataset.state = "ready";
      }
      toast("Signed in");
    } catch (e) {
      this.signinError.textContent = e instanceof CairnError ? e.message : String(e);
    }
  }

  private async signInWithGithub(): Promise<void> {
    const button = byId<HTMLButtonElement>("signin-github-btn");
    button.disabled = true;
    try {
      await this.signIn(() =>
        api.signInWithGithub(this.signinUrl.value.trim(), this.signinPassphrase.value, this.signinDevice.value),
      );
    } finally {
      button.disabled = false;
      byId("github-waiting").hidden = true;
    }
  }

  private async changePassphrase(): Promise<void> {
    const current = byId<HTMLInputElement>("pass-current");
    const next = byId<HTMLInputElement>("pass-new");
    const repeat = byId<HTMLInputElement>("pass-repeat");
    const msg = byId("pass-msg");
    msg.classList.remove("error");
    if (next.value !== repeat.value) {
      msg.textContent = "The new passphrases differ; type the same one twice.";
      msg.classList.add("error");
      return;
    }
    msg.textContent = "Changing…";
    try {
      await api.changePassphrase(current.value, next.value);
      current.value = next.value = repeat.value = "";
      msg.textContent = "Passphrase changed";
    } catch (e) {
      msg.textContent = e instanceof CairnError ? e.message : String(e);
      msg.classList.add("error");
    }
  }

  private async signOut(): Promise<void> {
    try {
      await api.signOut();
      await this.refresh();
      toast("Signed out — your notes stay on this device");
    } catch (e) {
      byId("devices-error").textContent = (e as Error).message;
    }
  }

  /** Keys shown once, kept on screen until the user says they are saved. */
  private secrets: { account?: string; recovery?: string; passphraseSet: boolean; rotated?: boolean } | null = null;

  /** The keys shown once, with the words that fit how they were made. */
  private showSecrets(a: AccountStatus): void {
    if (a.account_key || a.recovery_key) {
      this.secrets = {
        account: a.account_key ?? undefined,
        recovery: a.recovery_key ?? undefined,
        passphraseSet: this.passphraseSet,
      };
    }
    this.showSecretsKept();
  }

  /** Shows the keys kept in `secrets`, if any. */
  private showSecretsKept(): void {
    const s = this.secrets;
    byId("account-key-box").hidden = !s?.account;
    byId("account-key").textContent = s?.account ?? "";
    byId("recovery-key-box").hidden = !s?.recovery;
    byId("recovery-key").textContent = s?.recovery ?? "";
    byId("recovery-key-why").textContent = s?.rotated
      ? "Your new recovery key, shown only this once. A device was removed, so your notes have a new key: the old recovery key opens only notes written before now. If you chose no passphrase, enter this key on your other devices where Cairn asks for the passphrase. Keep it somewhere safe."
      : s?.passphraseSet
      ? "Your recovery key, shown only this once. If you forget your passphrase, it opens your notes on a new device. Keep it somewhere safe, apart from the passphrase."
      : "Your recovery key, shown only this once. You chose no passphrase, so this key is what opens your notes on your other devices: enter it there where the passphrase goes. Keep it somewhere safe.";
    byId("secrets-saved-row").hidden = !s;
  }

  /** Turns a device's row into a name field; Enter saves, Escape cancels. */
  private startRename(li: HTMLLIElement, current: string): void {
    const input = document.createElement("input");
    input.type = "text";
    input.className = "device-name-input";
    input.value = current;
    input.maxLength = 100;
    input.setAttribute("aria-label", "Device name");
    const label = li.querySelector(".device-name");
    const button = li.querySelector(".device-rename");
    label?.replaceWith(input);
    button?.remove();
    input.focus();
    input.select();
    const err = byId("devices-error");
    input.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        void this.showDevicesAgain();
      } else if (e.key === "Enter") {
        e.preventDefault();
        const id = li.dataset.id ?? "";
        api
          .renameDevice(id, input.value)
          .then(() => this.showDevicesAgain())
          .catch((error: unknown) => {
            err.textContent = error instanceof CairnError ? error.message : String(error);
          });
      }
    });
  }

  private async showDevicesAgain(): Promise<void> {
    await this.refresh();
  }
}
