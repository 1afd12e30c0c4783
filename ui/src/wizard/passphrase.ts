// The passphrase of Ferry's encrypted password file, asked in an app-level dialog. On a computer
// without a system password store (Linux without a desktop keyring), Ferry keeps the passwords in
// an encrypted file; until its passphrase is given, a command that needs a password fails with
// `vault_locked`. `withPassphrase` wraps the host so that such a command opens the dialog and, once
// the file is unlocked, runs again: the screens need no code of their own for it. The passphrase
// goes one way: read from the field at submit, the fields cleared at once, sent to Rust, never
// kept here nor returned.
import type { CommandError } from "../bindings/CommandError";
import type { VaultStatus } from "../bindings/VaultStatus";
import type { Host } from "../ipc/types";
import { asCommandError } from "../ipc/types";
import { h } from "../lib/dom";

/** What the dialog needs from the host. */
export interface PassphraseHost {
  vaultStatus(): Promise<VaultStatus>;
  /** One way only: nothing returned carries the passphrase. */
  unlockVault(passphrase: string): Promise<VaultStatus>;
}

/** The note a screen shows when the admin cancels the dialog (the screen stays as it was). */
export const CANCELLED_NOTE =
  "Cancelled: nothing was stored or read. This step needs the passphrase of Ferry's password file; do it again when you have it.";

export const CHOOSE_TITLE = "Choose a passphrase for Ferry's password file";
export const ENTER_TITLE = "Enter the passphrase of Ferry's password file";

/** The dialog; one at a time (a second command waiting for the passphrase waits for the same answer). */
export class PassphraseDialog {
  private open: Promise<boolean> | null = null;

  constructor(
    private readonly host: PassphraseHost,
    private readonly mount: HTMLElement,
  ) {}

  /** Shows the dialog unless the file is unlocked already; true once it is, false when cancelled. */
  ask(): Promise<boolean> {
    if (!this.open) {
      this.open = this.show().then(
        (unlocked) => {
          this.open = null;
          return unlocked;
        },
        (err: unknown) => {
          this.open = null;
          throw err;
        },
      );
    }
    return this.open;
  }

  private async show(): Promise<boolean> {
    const status = await this.host.vaultStatus();
    if (!status.locked) return true;
    return new Promise<boolean>((resolve) => {
      const before = document.activeElement as HTMLElement | null;
      const creating = !status.file_exists;
      const min = status.min_length;
      const field = (testid: string, autocomplete: string) =>
        h("input", { type: "password", class: "passphrase-input", "data-testid": testid, autocomplete, spellcheck: "false", autocapitalize: "off" }) as HTMLInputElement;
      const input = field("passphrase-input", creating ? "new-password" : "current-password");
      const confirm = creating ? field("passphrase-confirm", "new-password") : null;
      const problem = h("p", { class: "passphrase-problem", role: "alert", "data-testid": "passphrase-error", hidden: true });
      const cancel = h("button", { type: "button", "data-testid": "passphrase-cancel" }, "Cancel");
      const submit = h("button", { type: "submit", class: "primary", "data-testid": "passphrase-submit" }, creating ? "Create the password file" : "Unlock");
      const form = h(
        "form",
        { class: "modal card", role: "dialog", "aria-modal": "true", "aria-labelledby": "passphrase-title", "data-testid": "passphrase-dialog", "data-state": creating ? "choose" : "enter", novalidate: true },
        h("h2", { id: "passphrase-title" }, creating ? CHOOSE_TITLE : ENTER_TITLE),
        h(
          "p",
          { "data-testid": "passphrase-why" },
          "This computer has no system password store (such as the macOS Keychain), so Ferry keeps the passwords you give it in an encrypted file:",
        ),
        h("p", { class: "mono passphrase-file", "data-testid": "passphrase-file" }, status.file ?? ""),
        h(
          "p",
          { class: "section-lead" },
          creating
            ? "The passphrase locks that file. Ferry asks for it each time it starts. Keep it somewhere safe: without it, the passwords in the file cannot be read and have to be entered again."
            : "It is the passphrase chosen when the file was created. Ferry keeps it in memory only, until you quit.",
        ),
        h("label", { class: "passphrase-label" }, creating ? "New passphrase" : "Passphrase", input),
        confirm ? h("label", { class: "passphrase-label" }, "Type it again", confirm) : null,
        problem,
        creating
          ? h("p", { class: "footnote", "data-testid": "passphrase-rule" }, `At least ${min} characters. A few unrelated words make a good one.`)
          : h(
              "p",
              { class: "footnote", "data-testid": "passphrase-forgotten" },
              "Forgotten it? Quit Ferry, move that file away (or rename it) and open Ferry again: it starts a new file, and the passwords have to be entered again.",
            ),
        h("div", { class: "actions modal-actions" }, cancel, submit),
      );
      const backdrop = h("div", { class: "modal-backdrop", "data-testid": "passphrase-backdrop" }, form);

      const say = (text: string | null) => {
        problem.textContent = text ?? "";
        problem.hidden = text === null;
      };
      const wipe = () => {
        input.value = "";
        if (confirm) confirm.value = "";
      };
      const busy = (yes: boolean) => {
        input.disabled = yes;
        if (confirm) confirm.disabled = yes;
        cancel.disabled = yes;
        submit.disabled = yes;
        submit.textContent = yes ? (creating ? "Creating…" : "Checking…") : creating ? "Create the password file" : "Unlock";
        form.setAttribute("data-busy", yes ? "true" : "false");
      };
      const close = (unlocked: boolean) => {
        wipe();
        document.removeEventListener("keydown", onKey, true);
        backdrop.remove();
        if (before && document.contains(before)) before.focus();
        resolve(unlocked);
      };
      const onKey = (e: KeyboardEvent) => {
        if (e.key === "Escape" || e.key === "Esc") {
          e.preventDefault();
          e.stopPropagation();
          if (!cancel.disabled) close(false);
        } else if (e.key === "Tab") {
          // keep the focus inside the dialog
          const stops = [input, confirm, cancel, submit].filter((x): x is HTMLInputElement | HTMLButtonElement => x !== null && !x.disabled);
          if (stops.length === 0) return;
          const at = stops.indexOf(document.activeElement as HTMLInputElement);
          const next = e.shiftKey ? (at <= 0 ? stops.length - 1 : at - 1) : at === stops.length - 1 ? 0 : at + 1;
          e.preventDefault();
          stops[next].focus();
        }
      };
      const onSubmit = async (e: Event) => {
        e.preventDefault();
        if (submit.disabled) return;
        const passphrase = input.value;
        const again = confirm ? confirm.value : passphrase;
        wipe();
        if (passphrase === "") {
          say(creating ? "Type a passphrase first." : "Type the passphrase first.");
          input.focus();
          return;
        }
        if (creating && Array.from(passphrase).length < min) {
          say(`Choose a passphrase of at least ${min} characters.`);
          input.focus();
          return;
        }
        if (again !== passphrase) {
          say("The two passphrases differ. Type the same one in both fields.");
          input.focus();
          return;
        }
        say(null);
        busy(true);
        try {
          const now = await this.host.unlockVault(passphrase);
          busy(false);
          if (now.locked) {
            say("The password file is still locked. Try again.");
            input.focus();
            return;
          }
          close(true);
        } catch (err) {
          busy(false);
          say(asCommandError(err).message);
          input.focus();
        }
      };

      cancel.addEventListener("click", () => close(false));
      form.addEventListener("submit", (e) => void onSubmit(e));
      document.addEventListener("keydown", onKey, true);
      this.mount.append(backdrop);
      input.focus();
    });
  }
}

/**
 * The host, with every command that fails for want of the passphrase retried once the admin
 * unlocked the password file; when they cancel, the command fails with `CANCELLED_NOTE`.
 */
export function withPassphrase<H extends Host>(host: H, dialog: PassphraseDialog): H {
  return new Proxy(host, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== "function" || prop === "vaultStatus" || prop === "unlockVault") return value;
      const command = value as (...args: unknown[]) => Promise<unknown>;
      return async (...args: unknown[]) => {
        for (;;) {
          try {
            return await command.apply(target, args);
          } catch (err) {
            if (asCommandError(err).code !== "vault_locked") throw err;
            if (!(await dialog.ask())) throw { code: "vault_locked", message: CANCELLED_NOTE } satisfies CommandError;
          }
        }
      };
    },
  });
}
