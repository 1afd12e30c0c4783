import { beforeEach, describe, expect, it } from "vitest";
import { Wizard } from "../src/wizard/app";
import { CANCELLED_NOTE, CHOOSE_TITLE, ENTER_TITLE, PassphraseDialog, withPassphrase } from "../src/wizard/passphrase";
import { FakeHost } from "./fixtures";

let root: HTMLElement;
let host: FakeHost;
const q = (sel: string) => document.querySelector<HTMLElement>(sel);
const tid = (id: string) => q(`[data-testid="${id}"]`);
const flush = () => new Promise((r) => setTimeout(r, 20));
const FILE = "/home/admin/.local/share/ferry/passwords.ferry-vault";

function typeInto(el: HTMLElement | null, value: string) {
  const input = el as HTMLInputElement;
  input.value = value;
  input.dispatchEvent(new Event("input"));
}

function submit() {
  (tid("passphrase-dialog") as HTMLFormElement).dispatchEvent(new Event("submit", { cancelable: true }));
}

const pw = (login: string) => q(`[data-testid="cred-${login}"] [data-testid="password"]`) as HTMLInputElement;

/** The wizard on Credentials, a password typed for jdoe, and "Store passwords" clicked. */
async function storeJdoe(): Promise<Wizard> {
  await host.discover({ kind: "copy", root: "/srv/copy" });
  await host.chooseDestination({ preset: "genericImap", imap_host: "imap.new.example", imap_port: 993, imap_security: "tls", smtp_host: null, pinned_sha256: null });
  host.calls = [];
  const w = await Wizard.start(root, host);
  tid("phase-credentials")!.click();
  typeInto(pw("jdoe"), "Pw-Jdoe-481516");
  tid("store-passwords")!.click();
  await flush();
  return w;
}

/** Nothing in the page holds `secret`: no field's value, no text, no attribute. */
function nowhereInThePage(secret: string) {
  expect(document.body.innerHTML).not.toContain(secret);
  for (const input of Array.from(document.querySelectorAll("input"))) expect(input.value).not.toBe(secret);
}

beforeEach(() => {
  document.body.innerHTML = "";
  root = document.createElement("div");
  document.body.append(root);
  host = new FakeHost();
});

describe("the passphrase dialog", () => {
  it("first time: asks to choose a passphrase (twice, long enough), creates the file and stores the password", async () => {
    host.vaultUnlocked = false;
    const w = await storeJdoe();
    const dialog = tid("passphrase-dialog")!;
    expect(dialog.dataset.state).toBe("choose");
    expect(dialog.getAttribute("role")).toBe("dialog");
    expect(dialog.getAttribute("aria-modal")).toBe("true");
    // outside the wizard's root: a re-render of the screen does not remove it
    expect(root.contains(dialog)).toBe(false);
    expect(dialog.querySelector("h2")!.textContent).toBe(CHOOSE_TITLE);
    expect(tid("passphrase-why")!.textContent).toBe(
      "This computer has no system password store (such as the macOS Keychain), so Ferry keeps the passwords you give it in an encrypted file:",
    );
    expect(tid("passphrase-file")!.textContent).toBe(FILE);
    expect(tid("passphrase-rule")!.textContent).toBe("At least 10 characters. A few unrelated words make a good one.");
    expect(tid("passphrase-forgotten")).toBeNull();
    expect(tid("passphrase-submit")!.textContent).toBe("Create the password file");
    expect(document.activeElement).toBe(tid("passphrase-input"));
    expect((tid("passphrase-input") as HTMLInputElement).type).toBe("password");
    expect((tid("passphrase-confirm") as HTMLInputElement).type).toBe("password");
    // the screen waits behind the dialog, the password not yet stored
    expect(host.received).toEqual({});
    expect(host.calls).toEqual(["app_view", "password john@example.com", "vault_status"]);

    // too short: said here, nothing sent
    typeInto(tid("passphrase-input"), "short one");
    typeInto(tid("passphrase-confirm"), "short one");
    submit();
    await flush();
    expect(tid("passphrase-error")!.textContent).toBe("Choose a passphrase of at least 10 characters.");
    expect(tid("passphrase-error")!.hidden).toBe(false);
    expect((tid("passphrase-input") as HTMLInputElement).value).toBe("");
    expect((tid("passphrase-confirm") as HTMLInputElement).value).toBe("");
    expect(host.receivedPassphrases).toEqual([]);
    // the two fields differ
    typeInto(tid("passphrase-input"), "correct horse battery");
    typeInto(tid("passphrase-confirm"), "correct horse batterx");
    submit();
    await flush();
    expect(tid("passphrase-error")!.textContent).toBe("The two passphrases differ. Type the same one in both fields.");
    expect(host.receivedPassphrases).toEqual([]);
    expect(document.activeElement).toBe(tid("passphrase-input"));

    typeInto(tid("passphrase-input"), "correct horse battery");
    typeInto(tid("passphrase-confirm"), "correct horse battery");
    submit();
    // cleared at once, before the host answers
    expect((tid("passphrase-input") as HTMLInputElement).value).toBe("");
    await flush();
    expect(tid("passphrase-dialog")).toBeNull();
    expect(host.receivedPassphrases).toEqual(["correct horse battery"]);
    expect(host.vaultPassphrase).toBe("correct horse battery");
    // what the admin was doing ran again, and this time stored the password
    expect(host.received).toEqual({ "john@example.com": "Pw-Jdoe-481516" });
    expect(host.calls).toEqual(["app_view", "password john@example.com", "vault_status", "unlock_vault", "password john@example.com"]);
    expect(tid("error")).toBeNull();
    expect(pw("jdoe").placeholder).toBe("Stored (type to replace)");
    expect(JSON.stringify(w.state.typed)).toBe("{}");
    nowhereInThePage("correct horse battery");
    nowhereInThePage("Pw-Jdoe-481516");
  });

  it("later: a wrong passphrase says so and lets them retry; the right one unlocks and the step runs", async () => {
    host.vaultUnlocked = false;
    host.vaultPassphrase = "the right passphrase";
    await storeJdoe();
    const dialog = tid("passphrase-dialog")!;
    expect(dialog.dataset.state).toBe("enter");
    expect(dialog.querySelector("h2")!.textContent).toBe(ENTER_TITLE);
    expect(tid("passphrase-confirm")).toBeNull();
    expect(tid("passphrase-rule")).toBeNull();
    expect(tid("passphrase-forgotten")!.textContent).toBe(
      "Forgotten it? Quit Ferry, move that file away (or rename it) and open Ferry again: it starts a new file, and the passwords have to be entered again.",
    );
    expect(tid("passphrase-submit")!.textContent).toBe("Unlock");
    expect(tid("passphrase-file")!.textContent).toBe(FILE);
    expect(document.activeElement).toBe(tid("passphrase-input"));

    typeInto(tid("passphrase-input"), "the wrong passphrase");
    submit();
    await flush();
    expect(tid("passphrase-dialog")).not.toBeNull();
    expect(tid("passphrase-error")!.textContent).toBe("That passphrase does not open Ferry's password file. Check it (Caps Lock, keyboard layout) and try again.");
    expect((tid("passphrase-input") as HTMLInputElement).value).toBe("");
    expect(document.activeElement).toBe(tid("passphrase-input"));
    expect(host.received).toEqual({});

    typeInto(tid("passphrase-input"), "the right passphrase");
    submit();
    await flush();
    expect(tid("passphrase-dialog")).toBeNull();
    expect(host.receivedPassphrases).toEqual(["the wrong passphrase", "the right passphrase"]);
    expect(host.received).toEqual({ "john@example.com": "Pw-Jdoe-481516" });
    nowhereInThePage("the right passphrase");
    nowhereInThePage("the wrong passphrase");
  });

  it("Cancel leaves the screen as it was, with a note; the next try asks again", async () => {
    host.vaultUnlocked = false;
    host.vaultPassphrase = "the right passphrase";
    const w = await storeJdoe();
    typeInto(tid("passphrase-input"), "half typed");
    tid("passphrase-cancel")!.click();
    await flush();
    expect(tid("passphrase-dialog")).toBeNull();
    expect(tid("error")!.dataset.code).toBe("vault_locked");
    expect(tid("error-message")!.textContent).toBe(CANCELLED_NOTE);
    expect(host.received).toEqual({});
    expect(host.receivedPassphrases).toEqual([]);
    // the typed password is still there to store, the screen is Credentials
    expect(w.state.typed).toEqual({ "john@example.com": "Pw-Jdoe-481516" });
    expect(tid("screen-credentials")).not.toBeNull();
    nowhereInThePage("half typed");

    tid("store-passwords")!.click();
    await flush();
    expect(tid("passphrase-dialog")).not.toBeNull();
    // Escape cancels too
    document.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    await flush();
    expect(tid("passphrase-dialog")).toBeNull();
    expect(tid("error-message")!.textContent).toBe(CANCELLED_NOTE);
  });

  it("asks once for commands that wait together, and not at all once unlocked", async () => {
    host.vaultUnlocked = false;
    host.vaultPassphrase = "the right passphrase";
    const dialog = new PassphraseDialog(host, document.body);
    const guarded = withPassphrase(host, dialog);
    const first = guarded.startSync("initial_sync");
    const second = guarded.checkLogins();
    await flush();
    expect(document.querySelectorAll('[data-testid="passphrase-dialog"]').length).toBe(1);
    typeInto(tid("passphrase-input"), "the right passphrase");
    submit();
    expect(await first).toBe("job-1");
    await second;
    expect(host.calls.filter((c) => c === "unlock_vault")).toEqual(["unlock_vault"]);
    expect(host.calls.filter((c) => c === "start initial_sync").length).toBe(2);
    // unlocked: a command runs once, no dialog, no status asked
    host.calls = [];
    await guarded.checkLogins();
    expect(host.calls).toEqual(["check_logins"]);
    // other errors pass through untouched
    host.failNext = { code: "connection", message: "unreachable" };
    await expect(guarded.startSync("final_sync")).rejects.toEqual({ code: "connection", message: "unreachable" });
    expect(tid("passphrase-dialog")).toBeNull();
  });

  it("keeps Tab inside the dialog and gives the focus back when it closes", async () => {
    host.vaultUnlocked = false;
    await storeJdoe();
    const order = ["passphrase-input", "passphrase-confirm", "passphrase-cancel", "passphrase-submit"];
    for (let i = 0; i < order.length; i++) {
      expect(document.activeElement).toBe(tid(order[i]));
      document.dispatchEvent(new KeyboardEvent("keydown", { key: "Tab", bubbles: true, cancelable: true }));
    }
    expect(document.activeElement).toBe(tid("passphrase-input"));
    document.dispatchEvent(new KeyboardEvent("keydown", { key: "Tab", shiftKey: true, bubbles: true, cancelable: true }));
    expect(document.activeElement).toBe(tid("passphrase-submit"));
  });
});
