// What the editor shows of attachments: an image inline, any other file
// as a chip with its name and size, and for either, until its bytes are
// here, a placeholder that says how far the download has got.
//
// The widgets (md/attachment_widgets.ts) only make an empty element with
// the attachment's id; this module fills it from what the shell says of
// that attachment and fills every such element again when transfers move
// on, so a placeholder becomes its image without the note being reopened.
// Image bytes never come through a command: the <img> loads them from the
// shell's cairn-attachment scheme, like any image.

import { convertFileSrc } from "@tauri-apps/api/core";
import { api, type AttachmentView } from "./api";
import { toast } from "./dom";

const SCHEME = "cairn-attachment";
/** Elements to fill are gathered this long, then asked about in one call. */
const BATCH_MS = 30;

const known = new Map<string, AttachmentView>();
let asking = new Set<string>();
let timer = 0;

/** "2.5 MB", "300 KB", "12 bytes": sizes as people read them (decimal, as the limits are). */
export function sizeInWords(bytes: number): string {
  if (bytes >= 1_000_000) {
    const mb = bytes / 1_000_000;
    return `${mb >= 10 ? Math.round(mb) : Math.round(mb * 10) / 10} MB`;
  }
  if (bytes >= 1000) return `${Math.round(bytes / 1000)} KB`;
  return `${bytes} ${bytes === 1 ? "byte" : "bytes"}`;
}

/** Fills one element a widget made; asks the shell when it knows nothing yet. */
export function fill(el: HTMLElement): void {
  const id = el.dataset.attachment ?? "";
  const a = known.get(id);
  if (a) render(el, a);
  else renderUnknown(el);
  if (!a || !a.local) ask(id);
}

/** Asks again about every attachment shown that is not whole here (transfers moved on). */
export function refreshShown(): void {
  for (const el of shownElements()) {
    const a = known.get(el.dataset.attachment ?? "");
    if (!a || !a.local) ask(el.dataset.attachment ?? "");
  }
}

function shownElements(): HTMLElement[] {
  return [...document.querySelectorAll<HTMLElement>(".cm-editor [data-attachment]")];
}

function ask(id: string): void {
  if (!id) return;
  asking.add(id);
  if (timer) return;
  timer = window.setTimeout(() => void askNow(), BATCH_MS);
}

async function askNow(): Promise<void> {
  timer = 0;
  const ids = [...asking];
  asking = new Set();
  let views: AttachmentView[];
  try {
    views = await api.attachmentsInfo(ids);
  } catch (e) {
    // The placeholder stays; the next progress event asks again.
    console.error("reading attachments", e);
    return;
  }
  for (const v of views) known.set(v.id, v);
  for (const el of shownElements()) {
    const a = known.get(el.dataset.attachment ?? "");
    if (a && ids.includes(a.id)) render(el, a);
  }
}

function render(el: HTMLElement, a: AttachmentView): void {
  const image = el.dataset.kind === "image";
  // Render only what changed: an image already showing stays as it is.
  const state = a.local ? "local" : a.error ? "failed" : `waiting:${a.local_bytes}`;
  if (el.dataset.state === state) return;
  el.dataset.state = state;
  el.title = a.error ? `${a.name}: ${a.error}` : a.name;
  if (a.local) {
    if (image) showImage(el, a);
    else showChip(el, a);
    return;
  }
  el.replaceChildren(placeholder(a, image));
}

function renderUnknown(el: HTMLElement): void {
  if (el.dataset.state === "unknown") return;
  el.dataset.state = "unknown";
  const p = document.createElement("span");
  p.className = "cm-att-wait";
  p.textContent = "Waiting for an attachment from your other devices…";
  el.replaceChildren(p);
}

function placeholder(a: AttachmentView, image: boolean): HTMLElement {
  const p = document.createElement("span");
  p.className = "cm-att-wait";
  p.dataset.testid = "attachment-placeholder";
  const what = image ? "image" : "file";
  if (a.error) {
    p.textContent = `The ${what} “${a.name}” could not be downloaded; sync will try again.`;
    return p;
  }
  const bar = document.createElement("progress");
  bar.max = Math.max(a.size, 1);
  bar.value = a.local_bytes;
  const pct = a.size ? Math.floor((a.local_bytes / a.size) * 100) : 0;
  const words = document.createElement("span");
  words.textContent =
    a.local_bytes > 0
      ? `Downloading the ${what} “${a.name}” — ${pct}% of ${sizeInWords(a.size)}`
      : `Waiting to download the ${what} “${a.name}” (${sizeInWords(a.size)})`;
  bar.setAttribute("aria-label", words.textContent);
  p.append(bar, words);
  return p;
}

function showImage(el: HTMLElement, a: AttachmentView): void {
  const img = document.createElement("img");
  img.className = "cm-att-img";
  img.alt = a.name;
  img.dataset.testid = "attachment-img";
  img.draggable = false;
  // The line grows once the image has its size: the editor measures again.
  img.addEventListener("load", () => el.dispatchEvent(new Event("cairn-resized", { bubbles: true })));
  img.addEventListener("error", () => {
    el.dataset.state = "failed";
    const p = document.createElement("span");
    p.className = "cm-att-wait";
    p.textContent = `The image “${a.name}” could not be shown.`;
    el.replaceChildren(p);
  });
  img.src = convertFileSrc(a.id, SCHEME);
  el.replaceChildren(img);
}

function showChip(el: HTMLElement, a: AttachmentView): void {
  const name = document.createElement("span");
  name.className = "cm-att-name";
  name.textContent = a.name;
  const size = document.createElement("span");
  size.className = "cm-att-size";
  size.textContent = sizeInWords(a.size);
  // A badge with the kind of file (PDF, ZIP): the page has no icon font.
  const ext = /\.([A-Za-z0-9]{1,5})$/.exec(a.name)?.[1] ?? "file";
  el.dataset.ext = ext.toUpperCase();
  el.setAttribute("aria-label", `${a.name}, ${sizeInWords(a.size)}: open`);
  el.replaceChildren(name, size);
}

/** A chip was clicked: the file opens in the system's viewer, once it is here. */
export async function openAttachment(id: string): Promise<void> {
  const a = known.get(id);
  if (a && !a.local) {
    toast(`“${a.name}” is still downloading; it opens once it is here.`);
    return;
  }
  try {
    await api.openAttachment(id);
  } catch (e) {
    toast(e instanceof Error ? e.message : String(e), "error");
  }
}
