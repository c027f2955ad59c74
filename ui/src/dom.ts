// Small DOM helpers: look up an element that index.html must contain.

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html lacks #${id}`);
  return el as T;
}

let toastTimer = 0;

/** A button in a toast: "Undo", say. */
export interface ToastAction {
  label: string;
  run: () => void;
}

/** Shows a message at the bottom of the window; errors stay until clicked.
 * With an action, the message stays a little longer and offers it. */
export function toast(message: string, kind: "info" | "error" = "info", action?: ToastAction): void {
  const el = byId("toast");
  el.replaceChildren(document.createTextNode(message));
  if (action) {
    const button = document.createElement("button");
    button.id = "toast-action";
    button.textContent = action.label;
    button.addEventListener("click", (e) => {
      e.stopPropagation();
      el.hidden = true;
      action.run();
    });
    el.append(" ", button);
  }
  el.dataset.kind = kind;
  el.hidden = false;
  window.clearTimeout(toastTimer);
  if (kind === "info") toastTimer = window.setTimeout(() => (el.hidden = true), action ? 8000 : 3000);
}

export function initToast(): void {
  const el = byId("toast");
  el.addEventListener("click", () => (el.hidden = true));
}
