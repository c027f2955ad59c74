// A small context menu: a list of actions at the pointer, closed by a
// choice, Escape, or a click anywhere else. An action may ask to be
// confirmed: its first click turns it into a question, the second runs it.

export interface MenuAction {
  label: string;
  testid: string;
  run: () => void;
  /** Asked on the first click; the action runs on the second. */
  confirm?: string;
  danger?: boolean;
}

let open: HTMLElement | null = null;

export function closeMenu(): void {
  open?.remove();
  open = null;
}

document.addEventListener(
  "mousedown",
  (e) => {
    if (open && !open.contains(e.target as Node)) closeMenu();
  },
  true,
);
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && open) {
    e.stopPropagation();
    closeMenu();
  }
});

export function showMenu(x: number, y: number, actions: MenuAction[]): void {
  closeMenu();
  const menu = document.createElement("div");
  menu.className = "context-menu";
  menu.setAttribute("role", "menu");
  menu.dataset.testid = "context-menu";
  for (const a of actions) {
    const b = document.createElement("button");
    b.setAttribute("role", "menuitem");
    b.dataset.testid = a.testid;
    b.textContent = a.label;
    if (a.danger) b.classList.add("danger");
    b.addEventListener("click", () => {
      if (a.confirm && b.dataset.armed !== "true") {
        b.dataset.armed = "true";
        b.textContent = a.confirm;
        return;
      }
      closeMenu();
      a.run();
    });
    menu.append(b);
  }
  document.body.append(menu);
  // Kept inside the window, also at 640x420.
  const r = menu.getBoundingClientRect();
  menu.style.left = `${Math.max(4, Math.min(x, window.innerWidth - r.width - 4))}px`;
  menu.style.top = `${Math.max(4, Math.min(y, window.innerHeight - r.height - 4))}px`;
  open = menu;
  menu.querySelector("button")?.focus();
}
