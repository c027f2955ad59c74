// Typed wrappers around the shell's Tauri commands. Every command rejects
// with `{code, message}`; `call` turns that into a `CairnError` so callers
// can branch on `code` and show `message`.

import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

// The values the shell sends are declared from the Rust types (ts-rs, see
// src-tauri/bindings.rs).
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
import type { AccountStatus } from "./bindings/AccountStatus";
import type { Device } from "./bindings/Device";
import type { DeviceRemoval } from "./bindings/DeviceRemoval";
import type { SignInDefaults } from "./bindings/SignInDefaults";
import type { Settings } from "./bindings/Settings";
import type { Appearance } from "./bindings/Appearance";
import type { SearchResults } from "./bindings/SearchResults";
import type { AppInfo } from "./bindings/AppInfo";
import type { PastNote } from "./bindings/PastNote";
import type { SignInReason } from "./bindings/SignInReason";
import type { SyncProblem } from "./bindings/SyncProblem";
import type { StartupProblem } from "./bindings/StartupProblem";
import type { RepairDone } from "./bindings/RepairDone";
import type { EditSession } from "./bindings/EditSession";
import type { DiffRun } from "./bindings/DiffRun";
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
import type { Attached } from "./bindings/Attached";
import type { AttachmentView } from "./bindings/AttachmentView";
import type { AttachmentLimits } from "./bindings/AttachmentLimits";
import type { BlobProgress } from "./bindings/BlobProgress";
import type { SharedNotebook } from "./bindings/SharedNotebook";
import type { ShareRole } from "./bindings/ShareRole";
import type { MyIdentity } from "./bindings/MyIdentity";
import type { InviteeCheck } from "./bindings/InviteeCheck";
import type { Invited } from "./bindings/Invited";
import type { Member } from "./bindings/Member";
import type { Invitation } from "./bindings/Invitation";
import type { Invitations } from "./bindings/Invitations";

export type {
  Note,
  NoteSummary,
  Version,
  Splice,
  EditOutcome,
  SyncState,
  Origin,
  NoteChange,
  NotesChanged,
  AccountStatus,
  Device,
  SignInDefaults,
  Settings,
  AppInfo,
  PastNote,
  SignInReason,
  SyncProblem,
  StartupProblem,
  RepairDone,
  EditSession,
  DiffRun,
};
export type { Notebook, NotebookTree, Backlink, Link, Followed, NotePlace };
export type { ImportReport, ImportProgress, ExportReport, ExportProgress };
export type { Attached, AttachmentView, AttachmentLimits, BlobProgress };
export type { DeviceRemoval };
export type { SharedNotebook, ShareRole, MyIdentity, InviteeCheck, Invited, Member, Invitation, Invitations };

/** What the sync indicator shows; the shell's `SyncState`. */
export type SyncStatus = SyncState;

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

  /** Every note in use (or the trash), pinned first, then newest; the first `limit` only when given. */
  listNotes: (trashed: boolean, tag: string | null, limit: number | null = null) =>
    call<NoteSummary[]>("notes_list", { trashed, tag, limit }),
  /** Notes in use (or the trash) matching `query`, close spellings included when few match. */
  searchNotes: (query: string, trashed: boolean, limit: number) =>
    call<SearchResults>("notes_search", { query, trashed, limit }),

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
  discardIfBlank: (id: string) => call<boolean>("note_discard_if_blank", { id }),
  emptyTrash: () => call<number>("notes_empty_trash"),

  history: (id: string) => call<EditSession[]>("note_history", { id }),
  compare: (id: string, version: string) => call<DiffRun[]>("note_compare", { id, version }),
  noteAt: (id: string, version: string) => call<PastNote>("note_at", { id, version }),
  restoreVersion: (id: string, version: string) =>
    call<Note>("note_restore_version", { id, version }),

  startupProblem: () => call<StartupProblem | null>("startup_problem"),
  repairStore: () => call<RepairDone>("repair_store"),
  /** The system's folder dialog; null when cancelled. */
  pickFolder: (title: string) => call<string | null>("pick_folder", { title }),
  importFolder: (dir: string) => call<ImportReport>("import_folder", { dir }),
  exportFolder: (dir: string) => call<ExportReport>("export_folder", { dir }),

  syncStatus: () => call<SyncStatus>("sync_status"),
  account: () => call<AccountStatus>("account_status"),
  signInDefaults: () => call<SignInDefaults>("sign_in_defaults"),
  signInWithKey: (serviceUrl: string, accountKey: string, passphrase: string, deviceName: string) =>
    call<AccountStatus>("sign_in_with_key", { serviceUrl, accountKey, passphrase, deviceName }),
  signInWithGithub: (serviceUrl: string, passphrase: string, deviceName: string) =>
    call<AccountStatus>("sign_in_with_github", { serviceUrl, passphrase, deviceName }),
  createAccount: (serviceUrl: string, passphrase: string, deviceName: string) =>
    call<AccountStatus>("create_account", { serviceUrl, passphrase, deviceName }),
  renameDevice: (id: string, name: string) => call<Device>("device_rename", { id, name }),
  /** Removes a device: the notes get a new key (needs the passphrase), then the device is signed out. */
  removeDevice: (id: string, secret: string) => call<DeviceRemoval>("device_remove", { id, secret }),
  /** Finishes a removal that stopped after the new key was made. */
  resumeDeviceRemoval: (id: string) => call<void>("device_remove_resume", { id }),
  /** Takes the account's new key after another device removed one; sync resumes. */
  enterPassphrase: (secret: string) => call<void>("enter_passphrase", { secret }),
  cancelGithubSignIn: () => call<void>("cancel_github_sign_in"),
  openGithubSignInPage: () => call<void>("open_github_sign_in_page"),
  changePassphrase: (current: string, next: string) =>
    call<void>("change_passphrase", { current, next }),
  signOut: () => call<void>("sign_out"),
  devices: () => call<Device[]>("devices_list"),
  settings: () => call<Settings>("settings_get"),
  saveSettings: (settings: Settings) => call<Settings>("settings_set", { settings }),
  setAppearance: (appearance: Appearance) => call<Appearance>("appearance_set", { appearance }),
  setAttachmentLimits: (limits: AttachmentLimits) =>
    call<AttachmentLimits>("attachment_limits_set", { limits }),

  /** Attaches dropped files (their paths) to a note; the references are for the editor to insert. */
  attachFiles: (noteId: string, paths: string[]) => call<Attached[]>("attach_files", { noteId, paths }),
  /** Attaches pasted bytes: sent once, as the raw body of one call, not as JSON. */
  attachPasted: async (noteId: string, name: string, bytes: Uint8Array): Promise<Attached> => {
    try {
      return await invoke<Attached>("attach_pasted", bytes, {
        headers: { "cairn-note": encodeURIComponent(noteId), "cairn-name": encodeURIComponent(name) },
      });
    } catch (e) {
      throw toError(e);
    }
  },
  /** What placeholders and chips show; ids not known here are left out. */
  attachmentsInfo: (ids: string[]) => call<AttachmentView[]>("attachments_info", { ids }),
  /** A note was opened: download its attachments, whatever their size. */
  wantNoteAttachments: (noteId: string) => call<number>("note_want_attachments", { noteId }),
  openAttachment: (id: string) => call<void>("attachment_open", { id }),

  /** This account's id (what people give each other to share) and fingerprint. */
  sharingIdentity: () => call<MyIdentity>("sharing_identity"),
  /** Who an account id is, before anything is sent: fails with `key_changed` for a key not the one pinned. */
  shareCheck: (withAccount: string) => call<InviteeCheck>("share_check", { with: withAccount }),
  /** Invites them, to the identity whose fingerprint the check showed. */
  shareInvite: (notebook: string, withAccount: string, role: ShareRole, fingerprint: string) =>
    call<Invited>("share_invite", { notebook, with: withAccount, role, fingerprint }),
  invitations: () => call<Invitations>("invitations_list"),
  /** Answers the shared notebook's id in this store. */
  acceptInvitation: (id: string) => call<string>("invitation_accept", { id }),
  declineInvitation: (id: string) => call<void>("invitation_decline", { id }),
  members: (notebook: string) => call<Member[]>("notebook_members", { notebook }),
  removeMember: (notebook: string, member: string) => call<void>("notebook_unshare", { notebook, member }),
  leaveNotebook: (notebook: string) => call<void>("notebook_leave", { notebook }),
};

export const events = {
  notesChanged: (f: (e: NotesChanged) => void): Promise<UnlistenFn> =>
    listen<NotesChanged>("notes-changed", (e) => f(e.payload)),
  syncStatus: (f: (s: SyncStatus) => void): Promise<UnlistenFn> =>
    listen<SyncStatus>("sync-status", (e) => f(e.payload)),
  transferProgress: (f: (p: ImportProgress | ExportProgress) => void): Promise<UnlistenFn> =>
    listen<ImportProgress | ExportProgress>("transfer-progress", (e) => f(e.payload)),
  attachmentProgress: (f: (p: BlobProgress) => void): Promise<UnlistenFn> =>
    listen<BlobProgress>("attachment-progress", (e) => f(e.payload)),
  /** An invitation may have arrived, or a shared notebook's members changed. */
  sharingChanged: (f: () => void): Promise<UnlistenFn> => listen("sharing-changed", () => f()),
  githubStarted: (f: (authorizeUrl: string) => void): Promise<UnlistenFn> =>
    listen<{ authorize_url: string }>("github-sign-in-started", (e) => f(e.payload.authorize_url)),
};
