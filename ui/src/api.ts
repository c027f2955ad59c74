// Typed wrappers around the shell's Tauri commands. Every command rejects
// with `{code, message}`; `call` turns that into a `CairnError` so callers
// can branch on `code` and show `message`.

import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

// The values the shell sends are declared from the Rust types (ts-rs, see
// src-tauri/bindings.rs); only what has no Rust twin yet is written here.
import type { Note } from "./bindings/Note";
import type { NoteSummary } from "./bindings/NoteSummary";
import type { Version } from "./bindings/Version";
import type { Splice } from "./bindings/Splice";
import type { EditOutcome } from "./bindings/EditOutcome";
import type { SyncState } from "./bindings/SyncState";
import type { Origin } from "./bindings/Origin";
import type { NoteChange } from "./bindings/NoteChange";
import type { NotesChanged } from "./bindings/NotesChanged";
import type { CommandError } from "./bindings/CommandError";
import type { Notebook } from "./bindings/Notebook";
import type { NotebookTree } from "./bindings/NotebookTree";
import type { Backlink } from "./bindings/Backlink";
import type { Link } from "./bindings/Link";
import type { Followed } from "./bindings/Followed";
import type { NotePlace } from "./bindings/NotePlace";
import type { ImportReport } from "./bindings/ImportReport";
import type { ImportProgress } from "./bindings/ImportProgress";
import type { ExportReport } from "./bindings/ExportReport";
import type { ExportProgress } from "./bindings/ExportProgress";

export type { Note, NoteSummary, Version, Splice, EditOutcome, SyncState, Origin, NoteChange, NotesChanged };
export type { Notebook, NotebookTree, Backlink, Link, Followed, NotePlace };
export type { ImportReport, ImportProgress, ExportReport, ExportProgress };

/** What the sync indicator shows; the shell's `SyncState`. */
export type SyncStatus = SyncState;

export interface NoteState {
  body: string;
  tags: string[];
  pinned: boolean;
  trashed: boolean;
}

export interface AccountStatus {
  signed_in: boolean;
  user?: string;
  device_id?: string;
  service_url?: string;
  /** Set once, right after this device created the account's key. */
  recovery_key?: string;
}

export interface SignInDefaults {
  service_url?: string;
  account_key?: string;
}

export interface Device {
  id: string;
  name: string;
  last_seen_ms?: number;
  this_device: boolean;
}

export interface Settings {
  service_url: string;
}

export interface AppInfo {
  data_dir: string;
  version: string;
}

export class CairnError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function toError(e: unknown): CairnError {
  if (e && typeof e === "object" && "code" in e && "message" in e) {
    const o = e as CommandError;
    return new CairnError(String(o.code), String(o.message));
  }
  // Tauri itself rejects with a bare string when a command is unknown or its
  // arguments do not deserialize.
  return new CairnError("ipc", String(e));
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toError(e);
  }
}

export const api = {
  appInfo: () => call<AppInfo>("app_info"),

  listNotes: (trashed: boolean, tag: string | null) =>
    call<NoteSummary[]>("notes_list", { trashed, tag }),
  searchNotes: (query: string, limit: number) => call<NoteSummary[]>("notes_search", { query, limit }),

  /** Live notes in a notebook (with those under it when `recursive`), or in Unfiled (null). */
  listNotebookNotes: (notebook: string | null, recursive: boolean) =>
    call<NoteSummary[]>("notes_in_notebook", { notebook, recursive }),

  getNote: (id: string) => call<Note>("note_get", { id }),
  /** A new note, in `notebook` when one is given. */
  createNote: (body: string, notebook: string | null = null) => call<Note>("note_create", { body, notebook }),
  moveNote: (id: string, notebook: string | null) => call<Note>("note_move", { id, notebook }),
  notePlaces: (ids: string[]) => call<NotePlace[]>("note_places", { ids }),

  notebooks: () => call<NotebookTree>("notebooks_tree"),
  createNotebook: (name: string, parent: string | null) => call<string>("notebook_create", { name, parent }),
  renameNotebook: (id: string, name: string) => call<void>("notebook_rename", { id, name }),
  moveNotebook: (id: string, parent: string | null) => call<void>("notebook_move", { id, parent }),
  /** Deletes it and every notebook under it; answers how many notes went to the trash. */
  deleteNotebook: (id: string) => call<number>("notebook_delete", { id }),
  /** Which notebooks the sidebar shows collapsed (kept in the settings). */
  setCollapsedNotebooks: (ids: string[]) => call<void>("notebooks_set_collapsed", { ids }),
  collapsedNotebooks: () => call<string[]>("notebooks_collapsed"),

  noteLinks: (id: string) => call<Link[]>("note_links", { id }),
  backlinks: (id: string) => call<Backlink[]>("note_backlinks", { id }),
  titlesStarting: (prefix: string, limit: number) => call<Backlink[]>("titles_starting", { prefix, limit }),
  /** Follows link `text` of note `source`, creating the note it names if there is none. */
  followLink: (source: string, text: string) => call<Followed>("link_follow", { source, text }),
  /** Splices made on the note at `heads`; none: only what changed since. */
  edit: (id: string, heads: string[], splices: Splice[]) =>
    call<EditOutcome>("note_edit", { id, heads, splices }),
  noteSummaries: (ids: string[]) => call<NoteSummary[]>("notes_summaries", { ids }),
  setTags: (id: string, add: string[], remove: string[]) =>
    call<Note>("note_tag", { id, add, remove }),
  setPinned: (id: string, pinned: boolean) => call<Note>("note_set_pinned", { id, pinned }),
  trash: (id: string) => call<Note>("note_trash", { id }),
  restore: (id: string) => call<Note>("note_restore", { id }),
  remove: (id: string) => call<void>("note_delete", { id }),

  history: (id: string) => call<Version[]>("note_history", { id }),
  noteAt: (id: string, version: string) => call<NoteState>("note_at", { id, version }),
  restoreVersion: (id: string, version: string) =>
    call<Note>("note_restore_version", { id, version }),

  /** The system's folder dialog; null when cancelled. */
  pickFolder: (title: string) => call<string | null>("pick_folder", { title }),
  importFolder: (dir: string) => call<ImportReport>("import_folder", { dir }),
  exportFolder: (dir: string) => call<ExportReport>("export_folder", { dir }),

  syncStatus: () => call<SyncStatus>("sync_status"),
  account: () => call<AccountStatus>("account_status"),
  signInDefaults: () => call<SignInDefaults>("sign_in_defaults"),
  signInWithKey: (serviceUrl: string, accountKey: string, passphrase: string) =>
    call<AccountStatus>("sign_in_with_key", { serviceUrl, accountKey, passphrase }),
  signInWithGithub: (serviceUrl: string, passphrase: string) =>
    call<AccountStatus>("sign_in_with_github", { serviceUrl, passphrase }),
  cancelGithubSignIn: () => call<void>("cancel_github_sign_in"),
  openGithubSignInPage: () => call<void>("open_github_sign_in_page"),
  changePassphrase: (current: string, next: string) =>
    call<void>("change_passphrase", { current, next }),
  signOut: () => call<void>("sign_out"),
  devices: () => call<Device[]>("devices_list"),
  settings: () => call<Settings>("settings_get"),
  saveSettings: (settings: Settings) => call<Settings>("settings_set", { settings }),
};

export const events = {
  notesChanged: (f: (e: NotesChanged) => void): Promise<UnlistenFn> =>
    listen<NotesChanged>("notes-changed", (e) => f(e.payload)),
  syncStatus: (f: (s: SyncStatus) => void): Promise<UnlistenFn> =>
    listen<SyncStatus>("sync-status", (e) => f(e.payload)),
  transferProgress: (f: (p: ImportProgress | ExportProgress) => void): Promise<UnlistenFn> =>
    listen<ImportProgress | ExportProgress>("transfer-progress", (e) => f(e.payload)),
  githubStarted: (f: (authorizeUrl: string) => void): Promise<UnlistenFn> =>
    listen<{ authorize_url: string }>("github-sign-in-started", (e) => f(e.payload.authorize_url)),
};
