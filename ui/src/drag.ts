// Dragging a note or a notebook onto a notebook, with the mouse.
//
// Made of mouse events rather than HTML drag and drop: WebKitGTK's native
// drag needs a drag image from the window system and WebDriver cannot
// drive it, while mouse events behave the same for a user and for a test.
// A press becomes a drag once the pointer has moved a few pixels, so a
// click stays a click; the click that ends a drag is swallowed.

/** What is being dragged. */
export interface DragItem {
  kind: "note" | "notebook";
  id: string;
  label: string;
}

/** Where it may land: an element with `data-drop` ("notebook:<id>", "unfiled", "top"). */
export type DropTarget = string;

const THRESHOLD_PX = 5;

let current: { item: DragItem; ghost: HTMLElement; over: HTMLElement | null } | null = null;

function dropTargetAt(x: number, y: number): HTMLElement | null {
  const el = document.elementFromPoint(x, y) as HTMLElement | null;
  return el?.closest<HTMLElement>("[data-drop]") ?? null;
}

/**
 * Makes the elements under `root` that match `selector` draggable;
 * `itemOf` says what each one carries, `onDrop` is told where it landed.
 */
export function makeDraggable(
  root: HTMLElement,
  selector: string,
  itemOf: (el: HTMLElement) => DragItem | null,
  onDrop: (item: DragItem, target: DropTarget) => void,
): void {
  root.addEventListener("mousedown", (down) => {
    if (down.button !== 0) return;
    const el = (down.target as HTMLElement).closest<HTMLElement>(selector);
    if (!el || (down.target as HTMLElement).closest("input, button")) return;
    const item = itemOf(el);
    if (!item) return;
    const startX = down.clientX;
    const startY = down.clientY;
    const move = (e: MouseEvent) => {
      if (!current) {
        if (Math.hypot(e.clientX - startX, e.clientY - startY) < THRESHOLD_PX) return;
        const ghost = document.createElement("div");
        ghost.className = "drag-ghost";
        ghost.textContent = item.label;
        document.body.append(ghost);
        document.body.dataset.dragging = item.kind;
        current = { item, ghost, over: null };
      }
      e.preventDefault();
      current.ghost.style.transform = `translate(${e.clientX + 12}px, ${e.clientY + 8}px)`;
      const over = dropTargetAt(e.clientX, e.clientY);
      if (over !== current.over) {
        current.over?.classList.remove("drop-over");
        over?.classList.add("drop-over");
        current.over = over;
      }
    };
    const up = (e: MouseEvent) => {
      document.removeEventListener("mousemove", move, true);
      document.removeEventListener("mouseup", up, true);
      if (!current) return;
      const { ghost, over } = current;
      current = null;
      ghost.remove();
      over?.classList.remove("drop-over");
      delete document.body.dataset.dragging;
      // The click that follows the release is part of the drag.
      const swallow = (c: MouseEvent) => {
        c.stopPropagation();
        c.preventDefault();
      };
      document.addEventListener("click", swallow, { capture: true, once: true });
      window.setTimeout(() => document.removeEventListener("click", swallow, true), 0);
      const target = dropTargetAt(e.clientX, e.clientY)?.dataset.drop;
      if (target) onDrop(item, target);
    };
    document.addEventListener("mousemove", move, true);
    document.addEventListener("mouseup", up, true);
  });
}
