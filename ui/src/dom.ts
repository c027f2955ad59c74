// Small DOM helpers: look up an element that index.html must contain.

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html lacks #${id}`);
  return el as T;
}

let toastTimer = 0;

/** Shows a message at the bottom of the window; errors stay until clicked. */
export function toast(message: string, kind: "info" | "error" = "info"): void {
  const el = byId("toast");
  el.textContent = message;
  el.dataset.kind = kind;
  el.hidden = false;
  window.clearTimeout(toastTimer);
  if (kind === "info") toastTimer = window.setTimeout(() => (el.hidden = true), 3000);
}

export function initToast(): void {
  const el = byId("toast");
  el.addEventListener("click", () => (el.hidden = true));
}
