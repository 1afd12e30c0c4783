// Step 10, Quarantine: what the old server kept aside (the junk-training mailboxes and the
// amavis quarantine of spam and viruses), archived before the server goes: to mbox files in a
// chosen folder, or to a folder in one account's mailbox on the new host.
import type { AppView } from "../bindings/AppView";
import type { CommandError } from "../bindings/CommandError";
import type { QuarantineArchive } from "../bindings/QuarantineArchive";
import type { TrainingMailbox } from "../bindings/TrainingMailbox";
import type { Host } from "../ipc/types";
import { asCommandError } from "../ipc/types";
import { h } from "../lib/dom";
import { blockerList } from "./placeholder";
import { bytes, count, plural } from "../lib/format";

export const QUARANTINE_LEAD =
  "The old server kept some mail aside: the mailboxes people used to teach its junk filter, and the messages it held back as spam or viruses. Archive them before the server is switched off. Ferry only reads the old server; archiving again adds only what is not there yet.";

/** The IMAP folder the archive goes below when the admin keeps the suggestion. */
export const DEFAULT_BASE_FOLDER = "Old server quarantine";

export type QuarantineWhere = "mbox" | "imap";

export interface QuarantineProps {
  training: TrainingMailbox[];
  accounts: string[];
  where: QuarantineWhere;
  folder: string | null;
  account: string | null;
  baseFolder: string;
  busy: boolean;
  archive: QuarantineArchive | null;
  error: CommandError | null;
}

export interface QuarantineActions {
  setWhere(where: QuarantineWhere): void;
  chooseFolder(): void;
  setAccount(account: string): void;
  setBaseFolder(name: string): void;
  archive(): void;
  showInFinder(): void;
}

const KIND: Record<string, string> = {
  junk: "Taught as junk",
  notjunk: "Taught as not junk",
  training: "Junk-filter training",
  virus: "Held back: virus",
  spam: "Held back: spam",
  other_quarantine: "Held back",
};

export function quarantineBody(p: QuarantineProps, a: QuarantineActions): (HTMLElement | null)[] {
  const ready = p.where === "mbox" ? p.folder !== null : p.account !== null;
  return [
    p.error
      ? h("div", { class: "card error", role: "alert", "data-testid": "error", "data-code": p.error.code }, h("h2", {}, "The quarantine could not be archived"), h("p", { "data-testid": "error-message" }, p.error.message))
      : null,
    h(
      "section",
      { class: "card", "data-testid": "quarantine-found" },
      h("h2", {}, "What is there"),
      p.training.length === 0
        ? h("p", { "data-testid": "no-training" }, "Discovery found no junk-training mailboxes.")
        : h(
            "table",
            {},
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Mailbox"), h("th", { scope: "col" }, "What it is"), h("th", { scope: "col", class: "num" }, "Messages"), h("th", { scope: "col", class: "num" }, "Size"))),
            h(
              "tbody",
              {},
              p.training.map((t) =>
                h(
                  "tr",
                  { "data-testid": `training-${t.short_name}` },
                  h("td", { class: "mono" }, t.short_name),
                  h("td", {}, KIND[t.kind] ?? t.kind),
                  h("td", { class: "num" }, count(t.messages)),
                  h("td", { class: "num" }, bytes(t.bytes)),
                ),
              ),
            ),
          ),
      h("p", { class: "sub" }, "The messages the server held back as spam or viruses are looked for when you archive, and listed below with the rest."),
    ),
    h(
      "section",
      { class: "card", "data-testid": "quarantine-target" },
      h("h2", {}, "Where to keep it"),
      h(
        "label",
        { class: "option" },
        h("input", { type: "radio", name: "quarantine-where", "data-testid": "where-mbox", checked: p.where === "mbox", onchange: () => a.setWhere("mbox") }),
        " As mbox files in a folder (one file per mailbox; any mail program can open them)",
      ),
      p.where === "mbox"
        ? h(
            "div",
            { class: "source-line target-line" },
            h("span", { class: "mono", "data-testid": "mbox-folder" }, p.folder ?? "No folder chosen yet"),
            h("button", { type: "button", class: "secondary", "data-testid": "choose-folder", disabled: p.busy, onclick: () => a.chooseFolder() }, "Choose…"),
          )
        : null,
      h(
        "label",
        { class: "option" },
        h("input", { type: "radio", name: "quarantine-where", "data-testid": "where-imap", checked: p.where === "imap", disabled: p.accounts.length === 0, onchange: () => a.setWhere("imap") }),
        " In a folder of one account's mailbox on the new host",
      ),
      p.where === "imap"
        ? h(
            "div",
            { class: "target-line" },
            h(
              "select",
              { "data-testid": "imap-account", "aria-label": "Account", onchange: (e: Event) => a.setAccount((e.target as HTMLSelectElement).value) },
              p.accounts.map((x) => h("option", { value: x, selected: x === p.account }, x)),
            ),
            h("input", { type: "text", "data-testid": "base-folder", "aria-label": "Folder name", value: p.baseFolder, oninput: (e: Event) => a.setBaseFolder((e.target as HTMLInputElement).value) }),
          )
        : null,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "primary", "data-testid": "archive", disabled: p.busy || !ready, onclick: () => a.archive() }, p.busy ? "Archiving…" : p.archive ? "Archive again" : "Archive the quarantine"),
      ),
    ),
    p.archive ? result(p.archive, p.where, a) : null,
  ];
}

function result(r: QuarantineArchive, where: QuarantineWhere, a: QuarantineActions): HTMLElement {
  const complete = r.mailboxes.every((m) => m.failed === 0 && m.added + m.already_there === m.found);
  return h(
    "section",
    { class: complete ? "card ok" : "card", "data-testid": "quarantine-result" },
    h("h2", {}, r.mailboxes.length === 0 ? "Nothing to archive: the old server kept no mail aside" : complete ? `${plural(r.mailboxes.length, "mailbox", "mailboxes")} archived` : "Some messages could not be archived"),
    r.mailboxes.length > 0
      ? h(
          "table",
          {},
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Mailbox"), h("th", { scope: "col" }, "Kept in"), h("th", { scope: "col", class: "num" }, "Found"), h("th", { scope: "col", class: "num" }, "Added now"), h("th", { scope: "col", class: "num" }, "Already there"), h("th", { scope: "col", class: "num" }, "Could not be read"))),
          h(
            "tbody",
            {},
            r.mailboxes.map((m) =>
              h(
                "tr",
                { "data-testid": "archived-mailbox", class: m.failed > 0 ? "attention" : null },
                h("td", {}, m.label, h("span", { class: "sub" }, KIND[m.kind] ?? m.kind)),
                h("td", { class: "mono" }, m.destination),
                h("td", { class: "num" }, count(m.found)),
                h("td", { class: "num" }, count(m.added), h("span", { class: "sub" }, bytes(m.bytes_added))),
                h("td", { class: "num" }, count(m.already_there)),
                h("td", { class: "num", "data-testid": "failed" }, count(m.failed)),
              ),
            ),
          ),
        )
      : null,
    r.warnings.length > 0 ? h("ul", { class: "notes", "data-testid": "archive-warnings" }, r.warnings.map((w) => h("li", {}, w))) : null,
    where === "mbox" && r.mailboxes.length > 0
      ? h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", "data-testid": "show-in-finder", onclick: () => a.showInFinder() }, "Show in Finder"))
      : null,
  );
}

/** The screen's own state and its calls to the host; the wizard asks it for the body. */
export class QuarantineScreen {
  private where: QuarantineWhere = "mbox";
  private folder: string | null = null;
  private account: string | null = null;
  private baseFolder = DEFAULT_BASE_FOLDER;
  private busy = false;
  private archive: QuarantineArchive | null = null;
  private error: CommandError | null = null;

  constructor(
    private readonly host: Host,
    private readonly render: () => void,
  ) {}

  body(view: AppView, blockers: string[] = []): (HTMLElement | null)[] {
    const accounts = view.plan.filter((x) => x.included && x.present && x.kind === "user").map((x) => x.source_address);
    const account = this.account !== null && accounts.includes(this.account) ? this.account : accounts[0] ?? null;
    return [blockerList(blockers), ...quarantineBody(
      {
        training: view.inventory?.inventory.training_mailboxes ?? [],
        accounts,
        where: this.where,
        folder: this.folder,
        account,
        baseFolder: this.baseFolder,
        busy: this.busy,
        archive: this.archive,
        error: this.error,
      },
      {
        setWhere: (where) => this.update(() => (this.where = where)),
        chooseFolder: () => void this.guard(async () => {
          const picked = await this.host.chooseOutputFolder();
          if (picked !== null) this.folder = picked;
        }),
        setAccount: (x) => this.update(() => (this.account = x)),
        // no re-render while typing: the field keeps its caret
        setBaseFolder: (name) => void (this.baseFolder = name),
        archive: () => void this.run(account),
        showInFinder: () => void this.guard(() => this.host.openRecorded("quarantine_folder")),
      },
    )];
  }

  private update(change: () => unknown): void {
    change();
    this.render();
  }

  private async guard(call: () => Promise<unknown>): Promise<void> {
    this.error = null;
    try {
      await call();
    } catch (err) {
      this.error = asCommandError(err);
    }
    this.render();
  }

  private async run(account: string | null): Promise<void> {
    const target =
      this.where === "mbox"
        ? this.folder === null
          ? null
          : { to: "mbox" as const, folder: this.folder }
        : account === null
          ? null
          : { to: "imap" as const, account, base_folder: this.baseFolder.trim() || DEFAULT_BASE_FOLDER };
    if (target === null) return;
    this.busy = true;
    this.render();
    await this.guard(async () => {
      this.archive = await this.host.archiveQuarantine(target);
    });
    this.busy = false;
    this.render();
  }
}
