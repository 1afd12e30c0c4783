// Credentials: the passwords from a file the admin already has. A typed path (or the open
// dialog's choice) is previewed against the plan: each password's row and what happens to it,
// the lines Ferry cannot read, the accounts the file leaves out; the import stores them and the
// password table shows those accounts stored; then the file is deleted or kept, as the admin
// chooses, and Check logins is the next step. No password ever reaches the screen.
import { beforeEach, describe, expect, it } from "vitest";
import type { ImportPreview } from "../src/bindings/ImportPreview";
import type { PasswordImport } from "../src/bindings/PasswordImport";
import { previewCounts } from "../src/screens/credentials_import";
import { Wizard } from "../src/wizard/app";
import { FakeHost } from "./fixtures";

const FILE = "/Users/admin/Desktop/passwords.csv";
const VAULT = "the encrypted file /Users/admin/Library/Application Support/Ferry/passwords.ferry-vault (scrypt + XChaCha20-Poly1305; open it with your passphrase)";

/** As Rust reads this list against the fixture's plan (john, asmith, bmueller). */
function preview(): ImportPreview {
  return {
    file: FILE,
    format: "plain list (address,password)",
    rows: [
      { line: 2, side: "destination", user: "john@example.com", account: "john@example.com", new_address: "john@example.com", matched_by: "new_address", action: "store", first_line: null, note: "Its password on the new host." },
      { line: 3, side: "destination", user: "asmith", account: "asmith@example.com", new_address: "asmith@example.com", matched_by: "short_name", action: "store", first_line: null, note: "Its password on the new host." },
      { line: 4, side: "destination", user: "nobody@example.com", account: null, new_address: null, matched_by: null, action: "not_in_migration", first_line: null, note: "No account of this migration is called nobody@example.com." },
      { line: 5, side: "destination", user: "John@example.com", account: "john@example.com", new_address: "john@example.com", matched_by: "new_address", action: "duplicate", first_line: 2, note: "Line 2 already gives this password." },
    ],
    bad_lines: [{ line: 6, reason: "expected 2 fields separated by ',', found 1" }],
    to_store: 2,
    skipped: 2,
    not_in_file: ["bmueller@example.com"],
  };
}

function imported(): PasswordImport {
  const p = preview();
  return {
    preview: { ...p, rows: p.rows.map((r) => (r.action === "store" ? { ...r, action: "stored" as const } : r)) },
    stored: 2,
    stored_in: VAULT,
    summary: "2 passwords stored from passwords.csv (2 skipped, 1 line unreadable)",
  };
}

/** A host whose import, as Rust's, leaves the stored passwords where the login check finds them. */
class ImportingHost extends FakeHost {
  async importPasswordFile() {
    const result = await super.importPasswordFile();
    for (const r of result.preview.rows) if (r.action === "stored" && r.account) this.received[r.account] = "from the file";
    return result;
  }
}

let root: HTMLElement;
let host: ImportingHost;
const q = (sel: string) => root.querySelector<HTMLElement>(sel);
const tid = (id: string) => q(`[data-testid="${id}"]`);
const all = (sel: string) => Array.from(root.querySelectorAll<HTMLElement>(sel));
const flush = () => new Promise((r) => setTimeout(r, 20));

function typeInto(el: HTMLElement | null, value: string) {
  const input = el as HTMLInputElement;
  input.value = value;
  input.dispatchEvent(new Event("input"));
}

/** Discovered, a password host chosen, the wizard on Credentials. */
async function onCredentials(): Promise<Wizard> {
  await host.discover({ kind: "copy", root: "/srv/copy" });
  await host.chooseDestination({ preset: "genericImap", imap_host: "imap.new.example", imap_port: 993, imap_security: "tls", smtp_host: null, pinned_sha256: null });
  host.calls = [];
  const w = new Wizard(root, host, host.info, host.view);
  w.state.selected = "credentials";
  w.render();
  return w;
}

async function previewTyped(path = FILE) {
  typeInto(tid("import-path"), path);
  tid("import-preview")!.click();
  await flush();
}

/** Each row of the preview table as the admin reads it: line, name in the file, account, new address, what happens. */
function rows(): string[][] {
  return all('[data-testid="import-table"] tbody tr').map((tr) => Array.from(tr.querySelectorAll("td")).map((td) => td.textContent!));
}

const placeholder = (login: string) => (q(`[data-testid="cred-${login}"] [data-testid="password"]`) as HTMLInputElement).placeholder;

beforeEach(() => {
  document.body.innerHTML = "";
  root = document.createElement("div");
  document.body.append(root);
  host = new ImportingHost();
  host.previews = { [FILE]: preview() };
  host.importResult = imported();
});

describe("the password file's preview", () => {
  it("sits above the password table and says which lists Ferry reads", async () => {
    await onCredentials();
    expect(all("section.card").map((c) => c.dataset.testid)).toEqual(["password-import", "passwords"]);
    expect(q('[data-testid="password-import"] h2')!.textContent).toBe("Import passwords from a file");
    expect(all('[data-testid="import-formats"] li').map((li) => li.textContent)).toEqual([
      "address,password — each account's password on the new host",
      "imapsync's list host1;user1;password1;host2;user2;password2 — both servers' passwords",
      "Microsoft 365's migration CSV EmailAddress,UserName,Password — the old server's passwords",
    ]);
    expect(tid("import-choose")!.textContent).toBe("Import a password file…");
    // optional: the screen's one primary button stays the password table's
    expect(tid("import-choose")!.className).toBe("secondary");
    expect(root.querySelectorAll("button.primary").length).toBe(1);
    expect(tid("import-preview-block")).toBeNull();
    expect(host.calls).toEqual([]);
  });

  it("shows each password's row, the counts, the line Ferry cannot read and the account the file leaves out", async () => {
    await onCredentials();
    await previewTyped();
    expect(host.calls).toEqual([`preview_password_file ${FILE}`]);
    expect(tid("password-import")!.dataset.stage).toBe("preview");
    expect(tid("import-file")!.textContent).toBe("Preview of passwords.csv");
    expect(q('[data-testid="import-preview-block"] p.sub')!.textContent).toBe(`${FILE} — plain list (address,password)`);
    expect(tid("import-counts")!.textContent).toBe("2 passwords to store, 2 skipped, 1 line Ferry cannot read");
    expect(all('[data-testid="import-table"] th').map((th) => th.textContent)).toEqual(["Line", "In the file", "Account", "New address", "What will happen"]);
    expect(rows()).toEqual([
      ["2", "john@example.com", "john@example.com", "john@example.com", "Will be storedIts password on the new host."],
      ["3", "asmith", "asmith@example.com", "asmith@example.com", "Will be storedIts password on the new host."],
      ["4", "nobody@example.com", "—", "—", "SkippedNo account of this migration is called nobody@example.com."],
      ["5", "John@example.com", "john@example.com", "john@example.com", "SkippedLine 2 already gives this password."],
    ]);
    expect(all('[data-testid="import-table"] tbody tr').map((tr) => tr.dataset.action)).toEqual(["store", "store", "not_in_migration", "duplicate"]);
    expect(q('[data-testid="import-bad"] h3')!.textContent).toBe("A line Ferry cannot read");
    expect(tid("bad-line-6")!.textContent).toBe("Line 6: expected 2 fields separated by ',', found 1.");
    expect(tid("import-missing")!.textContent).toBe(
      "This file has no password on the new host for 1 account of the migration: bmueller@example.com. Type it in the table below.",
    );
    expect(tid("import-run")!.textContent).toBe("Import 2 passwords");
    // nothing is stored by a preview
    expect(host.imported).toBeNull();
    expect(placeholder("jdoe")).toBe("Password on the new host");
  });

  it("previews the file chosen in the open dialog; a cancelled dialog does nothing", async () => {
    await onCredentials();
    host.passwordFile = null;
    tid("import-choose")!.click();
    await flush();
    expect(host.calls).toEqual(["choose_password_file"]);
    expect(tid("import-preview-block")).toBeNull();
    expect(tid("import-error")).toBeNull();
    host.passwordFile = FILE;
    tid("import-choose")!.click();
    await flush();
    expect(host.calls).toEqual(["choose_password_file", "choose_password_file", `preview_password_file ${FILE}`]);
    expect((tid("import-path") as HTMLInputElement).value).toBe(FILE);
    expect(tid("import-counts")!.textContent).toBe("2 passwords to store, 2 skipped, 1 line Ferry cannot read");
    expect(tid("import-choose")!.textContent).toBe("Choose another file…");
  });

  it("says in words why a file cannot be read, and offers nothing to import", async () => {
    await onCredentials();
    await previewTyped("/Users/admin/Desktop/gone.csv");
    expect(tid("import-error")!.textContent).toBe("That did not work: Ferry cannot read /Users/admin/Desktop/gone.csv: there is no such file (was it moved or deleted?).");
    expect(tid("import-error")!.dataset.code).toBe("not_found");
    expect(tid("import-preview-block")).toBeNull();
    expect(tid("import-run")).toBeNull();
    host.failNext = { code: "permission_denied", message: `Ferry cannot read ${FILE}: the system does not allow Ferry to read it.` };
    await previewTyped();
    expect(tid("import-error")!.textContent).toBe(`That did not work: Ferry cannot read ${FILE}: the system does not allow Ferry to read it.`);
    expect(tid("import-run")).toBeNull();
    // an empty field asks for a path without asking Rust
    host.calls = [];
    await previewTyped("  ");
    expect(tid("import-error")!.textContent).toBe("That did not work: Type the file's path, or click Import a password file… to choose it.");
    expect(host.calls).toEqual([]);
  });

  it("offers nothing when no line gives a password the migration needs", async () => {
    await onCredentials();
    const useless: ImportPreview = {
      ...preview(),
      rows: [
        { line: 1, side: "destination", user: "nobody@example.com", account: null, new_address: null, matched_by: null, action: "not_in_migration", first_line: null, note: "No account of this migration is called nobody@example.com." },
      ],
      bad_lines: [],
      to_store: 0,
      skipped: 1,
      not_in_file: ["john@example.com", "asmith@example.com", "bmueller@example.com"],
    };
    host.previews["/Users/admin/useless.csv"] = useless;
    await previewTyped("/Users/admin/useless.csv");
    expect(tid("import-counts")!.textContent).toBe("0 passwords to store, 1 skipped");
    expect(tid("import-run")).toBeNull();
    expect(tid("import-nothing")!.textContent).toBe(
      "Nothing in this file can be used. No line gives a password this migration needs (each row says why). Check that it is the list for these accounts, or type the passwords in the table below.",
    );
    // a file none of whose lines can be read
    host.previews["/Users/admin/garbled.csv"] = { ...useless, rows: [], skipped: 0, bad_lines: [{ line: 1, reason: "expected 2 fields separated by ',', found 1" }, { line: 2, reason: "the password is empty" }] };
    await previewTyped("/Users/admin/garbled.csv");
    expect(tid("import-counts")!.textContent).toBe("0 passwords to store, 2 lines Ferry cannot read");
    expect(tid("import-table")).toBeNull();
    expect(q('[data-testid="import-bad"] h3')!.textContent).toBe("Lines Ferry cannot read");
    expect(all('[data-testid="import-bad"] li').map((li) => li.textContent)).toEqual(["Line 1: expected 2 fields separated by ',', found 1.", "Line 2: the password is empty."]);
    expect(tid("import-nothing")!.textContent).toBe(
      "Nothing in this file can be used. None of its lines could be read. Check that it is the list of passwords (see the kinds above), or type the passwords in the table below.",
    );
    expect(tid("import-run")).toBeNull();
    expect(host.calls.filter((c) => c === "import_password_file")).toEqual([]);
  });

  it("counts passwords, not lines, for an imapsync list whose old-server passwords are not needed", () => {
    const p: ImportPreview = {
      ...preview(),
      format: "imapsync (host1;user1;password1;host2;user2;password2)",
      rows: [
        { line: 1, side: "source", user: "asmith", account: "asmith@example.com", new_address: "asmith@example.com", matched_by: "short_name", action: "not_needed", first_line: null, note: "This is the old server's password, and Ferry reads asmith@example.com's mail from the server's disk." },
        { line: 1, side: "destination", user: "asmith", account: "asmith@example.com", new_address: "asmith@example.com", matched_by: "short_name", action: "store", first_line: null, note: "Its password on the new host." },
      ],
      bad_lines: [],
      to_store: 1,
      skipped: 1,
    };
    expect(previewCounts(p, false)).toBe("1 password to store, 1 skipped");
  });
});

describe("the import, then the file deleted or kept", () => {
  it("stores the passwords, shows those accounts stored, and deletes the file when asked", async () => {
    const w = await onCredentials();
    // a password typed before the import: the file's is the one stored
    typeInto(q('[data-testid="cred-jdoe"] [data-testid="password"]'), "typed-before");
    await previewTyped();
    tid("import-run")!.click();
    await flush();
    expect(host.calls).toEqual([`preview_password_file ${FILE}`, "import_password_file"]);
    expect(host.imported).toBe(FILE);
    expect(tid("password-import")!.dataset.stage).toBe("imported-offer");
    expect(tid("import-file")!.textContent).toBe("Imported from passwords.csv");
    expect(tid("import-counts")!.textContent).toBe("2 passwords stored, 2 skipped, 1 line Ferry cannot read");
    expect(rows().map((r) => r[4])).toEqual([
      "StoredIts password on the new host.",
      "StoredIts password on the new host.",
      "SkippedNo account of this migration is called nobody@example.com.",
      "SkippedLine 2 already gives this password.",
    ]);
    expect(tid("import-done")!.textContent).toBe(`2 passwords stored from passwords.csv (2 skipped, 1 line unreadable). Ferry keeps them in ${VAULT}.`);
    // the password table: john and asmith stored, bmueller still to type; the typed value is gone
    expect([placeholder("jdoe"), placeholder("asmith"), placeholder("bmueller")]).toEqual(["Stored (type to replace)", "Stored (type to replace)", "Password on the new host"]);
    expect((q('[data-testid="cred-jdoe"] [data-testid="password"]') as HTMLInputElement).value).toBe("");
    expect(w.state.typed).toEqual({});
    expect([...w.state.stored].sort()).toEqual(["asmith@example.com", "john@example.com"]);
    // the offer: nothing else to click in the section until it is answered
    expect(q('[data-testid="delete-offer"] h2')!.textContent).toBe("The file still holds these passwords in clear. Delete it now?");
    expect(q('[data-testid="delete-offer"] p')!.textContent).toBe(
      `Anyone who can read ${FILE} can read the passwords. Ferry overwrites the file, then deletes it. Keep it only if you still need it; then delete it yourself when the migration is done.`,
    );
    expect(tid("import-choose")).toBeNull();
    expect(tid("delete-file")!.textContent).toBe("Delete the file");
    expect(tid("keep-file")!.textContent).toBe("Keep it");
    expect(tid("import-next")).toBeNull();

    tid("delete-file")!.click();
    await flush();
    expect(host.calls).toEqual([`preview_password_file ${FILE}`, "import_password_file", "delete_password_file"]);
    expect(host.deletedFiles).toEqual([FILE]);
    expect(tid("delete-offer")).toBeNull();
    expect(tid("password-import")!.dataset.stage).toBe("imported-deleted");
    expect(tid("file-fate")!.textContent).toBe(`Deleted ${FILE}: it was overwritten, then removed.`);
    expect(tid("import-next")!.textContent).toBe("Next: click Check logins below to see that each password works.");
    // not all passwords are in yet (bmueller's): storing typed ones stays the first button
    expect(tid("store-passwords")!.className).toBe("primary");

    tid("check-logins")!.click();
    await flush();
    const status = (login: string) => q(`[data-testid="cred-${login}"] [data-testid="check-status"]`)!.textContent;
    expect([status("jdoe"), status("asmith"), status("bmueller")]).toEqual(["Signs in", "Signs in", "No password yet"]);
    expect(q('[data-testid="passwords"] h2')!.textContent).toBe("Passwords on imap.new.example (2 of 3 sign in)");
    // the pointer to Check logins has done its job
    expect(tid("import-next")).toBeNull();
    expect(tid("file-fate")!.textContent).toBe(`Deleted ${FILE}: it was overwritten, then removed.`);
    // no password anywhere on the screen, nor in what was sent
    expect(root.innerHTML).not.toContain("from the file");
    expect(root.innerHTML).not.toContain("typed-before");
    expect(host.calls.join("\n")).not.toContain("typed-before");
  });

  it("keeps the file when asked, says so, and points at Check logins (the first button once every password is in)", async () => {
    await onCredentials();
    host.previews[FILE] = { ...preview(), not_in_file: [] };
    const all3 = imported();
    all3.preview.rows.push({ line: 7, side: "destination", user: "bmueller", account: "bmueller@example.com", new_address: "bmueller@example.com", matched_by: "short_name", action: "stored", first_line: null, note: "Its password on the new host." });
    all3.preview.to_store = 3;
    all3.preview.not_in_file = [];
    all3.stored = 3;
    all3.summary = "3 passwords stored from passwords.csv (2 skipped, 1 line unreadable)";
    host.importResult = all3;
    await previewTyped();
    tid("import-run")!.click();
    await flush();
    tid("keep-file")!.click();
    await flush();
    expect(host.calls).toEqual([`preview_password_file ${FILE}`, "import_password_file"]);
    expect(host.deletedFiles).toEqual([]);
    expect(tid("password-import")!.dataset.stage).toBe("imported-kept");
    expect(tid("file-fate")!.textContent).toBe(`Kept ${FILE}. Delete it yourself when the migration is done: it holds passwords in clear.`);
    expect(tid("import-next")!.textContent).toBe("Next: click Check logins below to see that each password works.");
    expect([placeholder("jdoe"), placeholder("asmith"), placeholder("bmueller")]).toEqual(["Stored (type to replace)", "Stored (type to replace)", "Stored (type to replace)"]);
    expect(tid("check-logins")!.className).toBe("primary");
    expect(tid("store-passwords")!.className).toBe("secondary");
    // another file can be chosen now
    expect(tid("import-choose")!.textContent).toBe("Choose another file…");
  });

  it("says why a delete failed and leaves the offer open", async () => {
    await onCredentials();
    await previewTyped();
    tid("import-run")!.click();
    await flush();
    host.failNext = {
      code: "invalid",
      message: `Ferry did not delete ${FILE}: it is a symbolic link, and Ferry never overwrites a file through a link (it could point at any file). Delete the file it points to yourself: it still holds passwords in clear.`,
    };
    tid("delete-file")!.click();
    await flush();
    expect(tid("import-error")!.textContent).toBe(
      `That did not work: Ferry did not delete ${FILE}: it is a symbolic link, and Ferry never overwrites a file through a link (it could point at any file). Delete the file it points to yourself: it still holds passwords in clear.`,
    );
    expect(tid("delete-offer")).not.toBeNull();
    expect(tid("file-fate")).toBeNull();
    expect(host.deletedFiles).toEqual([]);
  });

  it("says why an import failed and stores nothing on the screen", async () => {
    const w = await onCredentials();
    await previewTyped();
    host.failNext = { code: "vault", message: "The passwords could not be stored, so none was: the password store is locked." };
    tid("import-run")!.click();
    await flush();
    expect(tid("import-error")!.textContent).toBe("That did not work: The passwords could not be stored, so none was: the password store is locked.");
    expect(tid("delete-offer")).toBeNull();
    expect(tid("import-run")!.textContent).toBe("Import 2 passwords");
    expect(w.state.stored.size).toBe(0);
    expect(placeholder("jdoe")).toBe("Password on the new host");
  });
});

describe("a host Ferry signs in to as the admin's app", () => {
  it("has no password file to import", async () => {
    await host.discover({ kind: "copy", root: "/srv/copy" });
    await host.chooseOAuthDestination({ kind: "microsoft_secret", tenant: "contoso.onmicrosoft.com", client_id: "11111111-2222-3333-4444-555555555555" }, "app-secret");
    const w = new Wizard(root, host, host.info, host.view);
    w.state.selected = "credentials";
    w.render();
    expect(tid("oauth-heading")).not.toBeNull();
    expect(tid("password-import")).toBeNull();
  });
});
