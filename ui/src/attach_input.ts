// Files into a note: pasted (the clipboard's files, images above all) or
// dropped onto the window (Tauri hands over their paths; the bytes never
// pass through the page). The shell stores each and answers the reference;
// the editor puts the references at the cursor, or where they were dropped.

import { api, type Attached } from "./api";
import { sizeInWords } from "./attachments";
import { attachLimitBytes } from "./attachment_settings";

/** What the shell says of a file over the limit, said here first for a paste, before its bytes are sent. */
export function tooLargeSentence(name: string, size: number, limit: number): string {
  return `“${name}” is ${sizeInWords(size)}, larger than the ${sizeInWords(limit)} limit for attachments (see Settings); nothing was added.`;
}

const EXTENSIONS: Record<string, string> = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/gif": "gif",
  "image/webp": "webp",
  "image/bmp": "bmp",
  "image/svg+xml": "svg",
};

/**
 * The name a pasted file is kept under. Screenshots come from the
 * clipboard as "image.png" (or with no name at all): they get the time
 * they were pasted, so a note with several tells them apart.
 */
export function pastedName(file: File, now = new Date()): string {
  const generic = !file.name || /^image\.\w+$/i.test(file.name);
  if (!generic) return file.name.replace(/[/\\]/g, "_");
  const ext = EXTENSIONS[file.type] ?? (file.name.split(".").pop() || "bin");
  const two = (n: number) => String(n).padStart(2, "0");
  const stamp = `${now.getFullYear()}-${two(now.getMonth() + 1)}-${two(now.getDate())} ${two(now.getHours())}.${two(now.getMinutes())}.${two(now.getSeconds())}`;
  return `Pasted image ${stamp}.${ext}`;
}

export class AttachRefused extends Error {}

/** Stores pasted files, every one checked against the limit before the first is sent. */
export async function attachPasted(noteId: string, files: File[]): Promise<Attached[]> {
  const limit = attachLimitBytes();
  const named = files.map((f) => ({ file: f, name: pastedName(f) }));
  const over = named.find((n) => n.file.size > limit);
  if (over) throw new AttachRefused(tooLargeSentence(over.name, over.file.size, limit));
  const out: Attached[] = [];
  for (const { file, name } of named) {
    out.push(await api.attachPasted(noteId, name, new Uint8Array(await file.arrayBuffer())));
  }
  return out;
}

/** Stores dropped files by path (the shell checks the limit for all before storing one). */
export function attachDropped(noteId: string, paths: string[]): Promise<Attached[]> {
  return api.attachFiles(noteId, paths);
}
