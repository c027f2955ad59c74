// Account and settings dialog: sign in (account key or GitHub), sign out,
// the user's devices, and the service URL.

import { api, events, CairnError, type AccountStatus } from "./api";
import { byId, toast } from "./dom";

const lastSeen = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export class AccountDialog {
  private readonly dialog = byId<HTMLDialogElement>("account-dialog");
  private readonly signinUrl = byId<HTMLInputElement>("signin-url");
  private readonly signinKey = byId<HTMLInputElement>("signin-key");
  private readonly signinPassphrase = byId<HTMLInputElement>("signin-passphrase");
  private readonly signinError = byId("signin-error");
  private readonly settingsUrl = byId<HTMLInputElement>("settings-url");

  constructor() {
    byId("signin-key-btn").addEventListener("click", () =>
      void this.signIn(() =>
        api.signInWithKey(this.signinUrl.value.trim(), this.signinKey.value, this.signinPassphrase.value),
      ),
    );
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
    byId("settings-save").addEventListener("click", () => void this.saveSettings());
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
      this.settingsUrl.value = settings.service_url;
      // Unset: show what is in use, without saving it as a choice.
      this.settingsUrl.placeholder = account.service_url ?? defaults.service_url ?? "http://127.0.0.1:8787";
      // Prefilled only: signing in needs the passphrase, which only the
      // user knows.
      if (!this.signinUrl.value) this.signinUrl.value = defaults.service_url ?? settings.service_url;
      if (!this.signinKey.value && defaults.account_key) this.signinKey.value = defaults.account_key;
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
    byId("account-summary").textContent = `Signed in as ${a.user ?? "?"} on ${a.service_url ?? "?"}`;
    byId("recovery-key-box").hidden = !a.recovery_key;
    byId("recovery-key").textContent = a.recovery_key ?? "";
    const box = byId("devices");
    const list = byId("device-list");
    const err = byId("devices-error");
    // The old list stays until the new one is here, in a box of fixed
    // height: nothing around it moves while it loads.
    box.setAttribute("aria-busy", "true");
    try {
      const items = (await api.devices()).map((d) => {
        const li = document.createElement("li");
        const seen = d.last_seen_ms ? ` · last seen ${lastSeen.format(new Date(d.last_seen_ms))}` : "";
        li.textContent = `${d.name}${d.this_device ? " (this device)" : ""}${seen}`;
        li.title = d.id;
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
  }

  private async signIn(f: () => Promise<AccountStatus>): Promise<void> {
    this.signinError.textContent = "";
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
      await this.signIn(() => api.signInWithGithub(this.signinUrl.value.trim(), this.signinPassphrase.value));
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

  private async saveSettings(): Promise<void> {
    const msg = byId("settings-msg");
    try {
      const saved = await api.saveSettings({ service_url: this.settingsUrl.value.trim() });
      this.settingsUrl.value = saved.service_url;
      msg.textContent = "Saved";
    } catch (e) {
      msg.textContent = (e as Error).message;
    }
  }
}
