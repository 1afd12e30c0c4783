import { tauriHost } from "./ipc/host";
import { Wizard } from "./wizard/app";

const root = document.getElementById("app");
if (root) {
  // Wizard.start shows its own error screen when loading fails.
  Wizard.start(root, tauriHost).catch((err: unknown) => console.error(err));
}
