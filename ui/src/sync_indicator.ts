// The sync indicator at the foot of the sidebar: one line that says whether
// this device's notes are safe elsewhere, and why not when they are not.

import { api, events, type SyncStatus } from "./api";
import { byId } from "./dom";

export function describe(s: SyncStatus): string {
  switch (s.state) {
    case "needs_sign_in":
      return s.reason && s.reason !== "not signed in"
        ? `Sign in again: ${s.reason}`
        : "Local only — sign in to sync";
    case "offline":
      return s.reason ? `Offline: ${s.reason}` : "Offline — changes will sync later";
    case "syncing":
      return "Syncing…";
    case "synced":
      if (s.pending_changes) return `Synced — ${s.pending_changes} changes to publish`;
      return s.on_all_devices ? "Synced on all devices" : "Synced — waiting for other devices";
    case "error":
      return `Sync error: ${s.reason ?? "unknown"}`;
  }
}

export async function initSyncIndicator(onClick: () => void): Promise<void> {
  const el = byId<HTMLButtonElement>("sync-indicator");
  const label = el.querySelector(".label");
  const show = (s: SyncStatus) => {
    el.dataset.state = s.state;
    const text = describe(s);
    if (label) label.textContent = text;
    el.title = `${text} — click for account`;
  };
  el.addEventListener("click", onClick);
  await events.syncStatus(show);
  try {
    show(await api.syncStatus());
  } catch (e) {
    show({ state: "error", reason: e instanceof Error ? e.message : String(e) });
  }
}
