// The sync indicator at the foot of the sidebar: one line that says whether
// this device's notes are safe elsewhere, and why not when they are not.
// The shell sends codes; the sentences are written here, for people. What a
// developer needs (the error as it came) is behind "Details" in the account
// dialog, never on the indicator.

import { api, events, type BlobProgress, type SignInReason, type SyncProblem, type SyncStatus } from "./api";
import { byId } from "./dom";
import { refreshShown, sizeInWords } from "./attachments";
import { PassphrasePrompt } from "./passphrase_prompt";

const signIn: Record<SignInReason, string> = {
  not_signed_in: "Local only — sign in to sync",
  device_removed: "Sign in again: this device was removed from your account",
  session_expired: "Sign in again: your session expired",
  session_ended: "Sign in again: this device was signed out",
  grant_expired: "Sign in again to go on syncing",
};

const problems: Record<SyncProblem, string> = {
  storage_unavailable: "Sync paused: the storage service is not answering. It will try again.",
  storage_rejected: "Sync paused: the storage service refused a request.",
  bad_object: "Sync paused: another device's changes arrived damaged and were not merged.",
  rolled_back: "Sync paused: another device's changes went back in time and were not merged.",
  no_key: "Enter your passphrase or recovery key to sync encrypted notes.",
  newer_format: "Another device uses a newer Cairn: update this one to sync with it.",
  key_rotated: "A device was removed from your account: enter your passphrase to keep syncing. Your edits stay on this device meanwhile.",
  service: "Sync paused: the Cairn service gave an answer this app does not understand.",
  keychain: "Cannot read your sign-in from the system keychain. Is it unlocked?",
  local: "Sync stopped because of a problem on this device.",
};

export function describe(s: SyncStatus): string {
  switch (s.state) {
    case "needs_sign_in":
      return signIn[s.reason];
    case "offline":
      return "Offline — changes will sync when you are back online";
    case "syncing":
      return "Syncing…";
    case "synced":
      if (s.pending_changes) {
        const n = s.pending_changes;
        return `Synced — ${n} ${n === 1 ? "note" : "notes"} still to send`;
      }
      return s.on_all_devices ? "Synced on all devices" : "Synced — waiting for other devices";
    case "error":
      return problems[s.problem];
  }
}

/** While attachments move, the indicator says how much is left instead. */
export function describeWithTransfers(s: SyncStatus, p: BlobProgress): string {
  const moving = p.moving && p.bytes_remaining > 0 && (s.state === "syncing" || s.state === "synced");
  return moving ? `Syncing attachments — ${sizeInWords(p.bytes_remaining)} left` : describe(s);
}

/** The error behind a state, for "Details"; empty when there is none. */
export function detail(s: SyncStatus): string {
  return s.state === "offline" || s.state === "error" ? s.detail : "";
}

/** Fills the account dialog's sync line: the sentence, and details if any. */
function showDetails(s: SyncStatus): void {
  byId("sync-sentence").textContent = describe(s);
  const more = detail(s);
  const box = byId<HTMLDetailsElement>("sync-details");
  box.hidden = !more;
  byId("sync-detail").textContent = more;
}

export async function initSyncIndicator(onClick: () => void): Promise<void> {
  const el = byId<HTMLButtonElement>("sync-indicator");
  const label = el.querySelector(".label");
  let last: SyncStatus = { state: "syncing" };
  let progress: BlobProgress = { bytes_remaining: 0, moving: false };
  const show = (s: SyncStatus) => {
    last = s;
    el.dataset.state = s.state;
    // A test (and a curious user) can tell which code is behind a sentence.
    el.dataset.code = s.state === "error" ? s.problem : s.state === "needs_sign_in" ? s.reason : "";
    el.dataset.bytesRemaining = String(progress.bytes_remaining);
    const text = describeWithTransfers(s, progress);
    if (label) label.textContent = text;
    el.title = `${text} — click for account`;
    showDetails(s);
    // A new key waits for the passphrase: the sentence gets its action.
    PassphrasePrompt.offered(s.state === "error" && s.problem === "key_rotated");
  };
  new PassphrasePrompt();
  el.addEventListener("click", onClick);
  await events.syncStatus(show);
  await events.attachmentProgress((p) => {
    progress = p;
    show(last);
    // Placeholders on screen catch up with what has arrived.
    refreshShown();
  });
  try {
    show(await api.syncStatus());
  } catch (e) {
    show({ state: "error", problem: "local", detail: e instanceof Error ? e.message : String(e) });
  }
}
