// Credentials: the passwords from a file the admin already has (imapsync's list, Microsoft 365's
// migration CSV, a plain address,password list). The file is chosen in the system's open dialog
// (or its path typed), previewed against the plan (which account each line fills, or why not; no
// password ever comes back from Rust), imported in one go, and then the admin is offered to delete
// it, since it holds the passwords in clear. The delete removes only the file Rust imported.
import type { CommandError } from "../bindings/CommandError";
import type { ImportAction } from "../bindings/ImportAction";
import type { ImportPreview } from "../bindings/ImportPreview";
import type { ImportRow } from "../bindings/ImportRow";
import type { PasswordImport } from "../bindings/PasswordImport";
import type { Host } from "../ipc/types";
import { asCommandError } from "../ipc/types";
import { h } from "../lib/dom";
import { count, plural } from "../lib/format";

/** What the section needs from the host. */
export type PasswordFileHost = Pick<Host, "choosePasswordFile" | "previewPasswordFile" | "importPasswordFile" | "deletePasswordFile">;

const ACTION_TEXT: Record<ImportAction, string> = {
  store: "Will be stored",
  stored: "Stored",
  not_needed: "Not needed",
  not_in_migration: "Skipped",
  excluded: "Skipped",
  needs_source_imap: "Skipped",
  duplicate: "Skipped",
  ambiguous: "Skipped",
};

const ACTION_CLASS: Record<ImportAction, string> = {
  store: "state-forwarding",
  stored: "state-active",
  not_needed: "state-disabled",
  not_in_migration: "state-disabled",
  excluded: "state-disabled",
  needs_source_imap: "state-bad",
  duplicate: "state-disabled",
  ambiguous: "state-bad",
};

/** The file's name without its folder. */
function fileName(path: string): string {
  const at = path.lastIndexOf("/");
  return at >= 0 ? path.slice(at + 1) : path;
}

/**
 * "3 passwords to store, 2 skipped, 1 line Ferry cannot read". The skipped are passwords, not
 * lines: an imapsync line gives two (the old server's and the new host's), and one may be stored
 * while the other is not needed.
 */
export function previewCounts(p: ImportPreview, imported: boolean): string {
  const parts = [imported ? `${plural(p.to_store, "password")} stored` : `${plural(p.to_store, "password")} to store`];
  if (p.skipped > 0) parts.push(`${count(p.skipped)} skipped`);
  if (p.bad_lines.length > 0) parts.push(`${plural(p.bad_lines.length, "line")} Ferry cannot read`);
  return parts.join(", ");
}

type Busy = "choose" | "preview" | "import" | "delete" | null;

/** The accounts an import stored a password for (their old addresses): on the new host, on the old server. */
export interface ImportedAccounts {
  destination: string[];
  source: string[];
}

/** The accounts of `rows` whose password on `side` was stored. */
function storedFor(rows: ImportRow[], side: ImportRow["side"]): string[] {
  return rows.filter((r) => r.action === "stored" && r.side === side && r.account !== null).map((r) => r.account!);
}

/** The import section's state, kept apart from the wizard's (the wizard only renders it). */
export class PasswordImportSection {
  path = "";
  preview: ImportPreview | null = null;
  result: PasswordImport | null = null;
  /** After an import: the offer to delete the file, then what the admin chose. */
  fate: "offer" | "deleted" | "kept" | null = null;
  busy: Busy = null;
  error: CommandError | null = null;
  /** The logins were checked since the import: the pointer to Check logins has done its job. */
  checked = false;

  constructor(
    private readonly host: PasswordFileHost,
    private readonly render: () => void,
    /** The accounts whose passwords the import stored (their old addresses), by side. */
    private readonly imported: (accounts: ImportedAccounts) => void,
  ) {}

  private set(patch: Partial<Pick<PasswordImportSection, "path" | "preview" | "result" | "fate" | "busy" | "error" | "checked">>): void {
    Object.assign(this, patch);
    this.render();
  }

  async choose(): Promise<void> {
    if (this.busy) return;
    this.set({ busy: "choose", error: null });
    try {
      const picked = await this.host.choosePasswordFile();
      this.set({ busy: null });
      if (picked !== null) {
        this.path = picked;
        await this.runPreview();
      }
    } catch (err) {
      this.set({ busy: null, error: asCommandError(err) });
    }
  }

  async runPreview(): Promise<void> {
    if (this.busy) return;
    const path = this.path.trim();
    if (path === "") {
      this.set({ error: { code: "invalid", message: "Type the file's path, or click Import a password file… to choose it." } });
      return;
    }
    this.set({ busy: "preview", error: null, preview: null, result: null, fate: null });
    try {
      const preview = await this.host.previewPasswordFile(path);
      this.set({ busy: null, preview });
    } catch (err) {
      this.set({ busy: null, error: asCommandError(err) });
    }
  }

  async runImport(): Promise<void> {
    if (this.busy || !this.preview) return;
    this.set({ busy: "import", error: null });
    try {
      const result = await this.host.importPasswordFile();
      // the wizard marks the accounts stored first; the render below shows both
      this.imported({ destination: storedFor(result.preview.rows, "destination"), source: storedFor(result.preview.rows, "source") });
      this.set({ busy: null, result, preview: result.preview, fate: "offer", checked: false });
    } catch (err) {
      this.set({ busy: null, error: asCommandError(err) });
    }
  }

  async deleteFile(): Promise<void> {
    if (this.busy) return;
    this.set({ busy: "delete", error: null });
    try {
      await this.host.deletePasswordFile();
      this.set({ busy: null, fate: "deleted" });
    } catch (err) {
      this.set({ busy: null, error: asCommandError(err) });
    }
  }

  /** The wizard ran the login check (it renders next). */
  loginsChecked(): void {
    this.checked = true;
  }

  keepFile(): void {
    this.set({ fate: "kept", error: null });
  }

  /** Back to choosing a file (the preview forgotten). */
  reset(): void {
    this.set({ preview: null, result: null, fate: null, error: null });
  }

  section(wizardBusy: boolean): HTMLElement {
    const busy = wizardBusy || this.busy !== null;
    const offer = this.fate === "offer";
    return h(
      "section",
      { class: "card", "data-testid": "password-import", "data-stage": this.result ? `imported-${this.fate}` : this.preview ? "preview" : "choose" },
      h("h2", {}, "Import passwords from a file"),
      h(
        "p",
        { class: "section-lead" },
        "Already have the passwords in a list? Ferry reads it instead of you typing each one. It reads three kinds of list, one account per line:",
      ),
      h(
        "ul",
        { class: "formats", "data-testid": "import-formats" },
        h("li", {}, h("span", { class: "mono" }, "address,password"), " — each account's password on the new host"),
        h("li", {}, "imapsync's list ", h("span", { class: "mono" }, "host1;user1;password1;host2;user2;password2"), " — both servers' passwords"),
        h("li", {}, "Microsoft 365's migration CSV ", h("span", { class: "mono" }, "EmailAddress,UserName,Password"), " — the old server's passwords"),
      ),
      offer ? null : this.chooser(busy),
      this.error
        ? h("div", { class: "notice error", role: "alert", "data-testid": "import-error", "data-code": this.error.code }, h("strong", {}, "That did not work: "), this.error.message)
        : null,
      this.preview ? this.previewBlock(this.preview, busy) : null,
    );
  }

  private chooser(busy: boolean): HTMLElement {
    return h(
      "div",
      { class: "import-chooser" },
      h(
        "div",
        { class: "actions" },
        h(
          "button",
          { type: "button", class: "secondary", "data-testid": "import-choose", disabled: busy, onclick: () => void this.choose() },
          this.busy === "choose" ? "Choosing…" : this.preview ? "Choose another file…" : "Import a password file…",
        ),
      ),
      h(
        "label",
        { class: "sub-line", for: "import-path" },
        "Or type the file's path:",
      ),
      h(
        "span",
        { class: "path-row" },
        h("input", {
          id: "import-path",
          class: "path-input mono",
          "data-testid": "import-path",
          autocomplete: "off",
          spellcheck: "false",
          placeholder: "/Users/admin/Desktop/passwords.csv",
          value: this.path,
          // no re-render while typing: the field keeps its caret
          oninput: (e: Event) => {
            this.path = (e.target as HTMLInputElement).value;
          },
          onkeydown: (e: Event) => {
            if ((e as KeyboardEvent).key === "Enter") void this.runPreview();
          },
        }),
        h("button", { type: "button", class: "secondary", "data-testid": "import-preview", disabled: busy, onclick: () => void this.runPreview() }, this.busy === "preview" ? "Reading…" : "Preview"),
      ),
    );
  }

  private previewBlock(p: ImportPreview, busy: boolean): HTMLElement {
    const done = this.result !== null;
    const anySource = p.rows.some((r) => r.side === "source");
    return h(
      "div",
      { class: "import-preview", "data-testid": "import-preview-block" },
      h("h3", { "data-testid": "import-file" }, done ? `Imported from ${fileName(p.file)}` : `Preview of ${fileName(p.file)}`),
      h("p", { class: "sub" }, h("span", { class: "mono" }, p.file), ` — ${p.format}`),
      h("p", { class: "import-counts", "data-testid": "import-counts" }, previewCounts(p, done)),
      p.rows.length > 0 ? this.table(p.rows, anySource) : null,
      p.bad_lines.length > 0
        ? h(
            "div",
            { class: "import-bad", "data-testid": "import-bad" },
            h("h3", {}, p.bad_lines.length === 1 ? "A line Ferry cannot read" : "Lines Ferry cannot read"),
            h(
              "ul",
              {},
              p.bad_lines.map((b) => h("li", { "data-testid": `bad-line-${b.line}` }, `Line ${b.line}: ${b.reason}.`)),
            ),
            h("p", { class: "sub" }, "Nothing from these lines is shown or stored. Correct them in the file and choose it again, or type those passwords in the table below."),
          )
        : null,
      p.not_in_file.length > 0
        ? h(
            "p",
            { class: "import-missing", "data-testid": "import-missing" },
            `This file has no password on the new host for ${plural(p.not_in_file.length, "account")} of the migration: `,
            h("span", { class: "mono" }, p.not_in_file.join(", ")),
            ". Type ",
            p.not_in_file.length === 1 ? "it" : "them",
            " in the table below.",
          )
        : null,
      done ? this.afterImport(busy) : this.importActions(p, busy),
    );
  }

  private table(rows: ImportRow[], anySource: boolean): HTMLElement {
    return h(
      "table",
      { class: "import-table", "data-testid": "import-table" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col", class: "num" }, "Line"),
          anySource ? h("th", { scope: "col" }, "Password for") : null,
          h("th", { scope: "col" }, "In the file"),
          h("th", { scope: "col" }, "Account"),
          h("th", { scope: "col" }, "New address"),
          h("th", { scope: "col" }, "What will happen"),
        ),
      ),
      h(
        "tbody",
        {},
        rows.map((r) =>
          h(
            "tr",
            { "data-testid": `import-row-${r.line}-${r.side}`, "data-action": r.action, class: r.action === "store" || r.action === "stored" ? null : "inactive" },
            h("td", { class: "num" }, String(r.line)),
            anySource ? h("td", {}, r.side === "source" ? "Old server" : "New host") : null,
            h("td", { class: "mono", "data-testid": "import-user" }, r.user),
            h("td", { class: "mono", "data-testid": "import-account" }, r.account ?? "—"),
            h("td", { class: "mono", "data-testid": "import-new-address" }, r.new_address ?? "—"),
            h(
              "td",
              { "data-testid": "import-what" },
              h("span", { class: `badge ${ACTION_CLASS[r.action]}`, "data-testid": "import-action" }, ACTION_TEXT[r.action]),
              h("span", { class: "sub", "data-testid": "import-note" }, r.note),
            ),
          ),
        ),
      ),
    );
  }

  private importActions(p: ImportPreview, busy: boolean): HTMLElement {
    if (p.to_store === 0) {
      return h(
        "div",
        { class: "notice", "data-testid": "import-nothing" },
        h("strong", {}, "Nothing in this file can be used. "),
        p.rows.length === 0
          ? "None of its lines could be read. Check that it is the list of passwords (see the kinds above), or type the passwords in the table below."
          : "No line gives a password this migration needs (each row says why). Check that it is the list for these accounts, or type the passwords in the table below.",
      );
    }
    return h(
      "div",
      { class: "actions" },
      h(
        "button",
        { type: "button", class: "primary", "data-testid": "import-run", disabled: busy, onclick: () => void this.runImport() },
        this.busy === "import" ? "Importing…" : `Import ${plural(p.to_store, "password")}`,
      ),
      h("button", { type: "button", class: "secondary", "data-testid": "import-cancel", disabled: busy, onclick: () => this.reset() }, "Cancel"),
    );
  }

  private afterImport(busy: boolean): HTMLElement {
    const r = this.result!;
    const file = r.preview.file;
    const stored = h("p", { class: "import-done", "data-testid": "import-done" }, `${r.summary}. Ferry keeps them in ${r.stored_in}.`);
    if (this.fate === "offer") {
      return h(
        "div",
        {},
        stored,
        h(
          "div",
          { class: "card confirm delete-offer", role: "alertdialog", "aria-labelledby": "delete-offer-title", "data-testid": "delete-offer" },
          h("h2", { id: "delete-offer-title" }, "The file still holds these passwords in clear. Delete it now?"),
          h("p", {}, "Anyone who can read ", h("span", { class: "mono" }, file), " can read the passwords. Ferry overwrites the file, then deletes it. Keep it only if you still need it; then delete it yourself when the migration is done."),
          h(
            "div",
            { class: "actions" },
            h("button", { type: "button", class: "danger-fill", "data-testid": "delete-file", disabled: busy, onclick: () => void this.deleteFile() }, this.busy === "delete" ? "Deleting…" : "Delete the file"),
            h("button", { type: "button", class: "secondary", "data-testid": "keep-file", disabled: busy, onclick: () => this.keepFile() }, "Keep it"),
          ),
        ),
      );
    }
    const fate =
      this.fate === "deleted"
        ? h("p", { class: "notice", "data-testid": "file-fate", "data-fate": "deleted" }, "Deleted ", h("span", { class: "mono" }, file), ": it was overwritten, then removed.")
        : h("p", { class: "notice", "data-testid": "file-fate", "data-fate": "kept" }, "Kept ", h("span", { class: "mono" }, file), ". Delete it yourself when the migration is done: it holds passwords in clear.");
    return h("div", {}, stored, fate, this.checked ? null : h("p", { class: "next-step", "data-testid": "import-next" }, "Next: click Check logins below to see that each password works."));
  }
}
