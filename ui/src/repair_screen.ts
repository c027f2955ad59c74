// What the window shows instead of the notes when their database is
// damaged: which part, that nothing is lost, and one button that rebuilds
// it. After the repair the app starts afresh with the notes.

import { api, CairnError, type StartupProblem } from "./api";
import { byId } from "./dom";

function list(parts: string[]): string {
  if (parts.length <= 1) return parts.join("");
  return `${parts.slice(0, -1).join(", ")} and ${parts[parts.length - 1]}`;
}

export function showRepairScreen(problem: StartupProblem): void {
  byId("app").hidden = true;
  const screen = byId("repair-screen");
  screen.hidden = false;
  screen.dataset.state = "damaged";
  const what = list(problem.parts);
  byId("repair-what").textContent = problem.repairable
    ? `Part of Cairn's database on this device is damaged: ${what}. ` +
      "Cairn can rebuild it from your notes; no note is lost, and the damaged file is kept."
    : `Part of Cairn's database on this device is damaged: ${what}. ` +
      "It cannot be rebuilt here. If you sync, your notes are safe on your other devices: " +
      "move the data folder aside and sign in again, or restore a backup.";
  byId("repair-detail").textContent = problem.detail;
  const button = byId<HTMLButtonElement>("repair-btn");
  button.hidden = !problem.repairable;
  const message = byId("repair-msg");
  button.addEventListener("click", async () => {
    button.disabled = true;
    screen.dataset.state = "repairing";
    message.textContent = "Repairing…";
    try {
      const done = await api.repairStore();
      screen.dataset.state = "repaired";
      message.textContent = `Repaired: ${done.notes_rebuilt} notes checked. Opening them…`;
      window.location.reload();
    } catch (e) {
      screen.dataset.state = "failed";
      button.disabled = false;
      message.textContent = "The repair did not finish; nothing was changed.";
      byId("repair-detail").textContent = e instanceof CairnError || e instanceof Error ? e.message : String(e);
    }
  });
}
