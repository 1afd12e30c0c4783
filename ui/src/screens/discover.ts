// Step 1, Discover: choose where the old server is, run discovery, and show the Inventory as an
// admin wants to see it (accounts with sizes, folders on demand, every warning with what to do).
import type { Account } from "../bindings/Account";
import type { AccountState } from "../bindings/AccountState";
import type { CommandError } from "../bindings/CommandError";
import type { Folder } from "../bindings/Folder";
import type { FolderRole } from "../bindings/FolderRole";
import type { HostInfo } from "../bindings/HostInfo";
import type { Inventory } from "../bindings/Inventory";
import type { Snapshot } from "../bindings/Snapshot";
import type { Source } from "../bindings/Source";
import type { SourceKind } from "../bindings/SourceKind";
import type { Decision } from "../bindings/Decision";
import type { Warning } from "../bindings/Warning";
import { h } from "../lib/dom";
import { decisionChoices, explainError, explainWarning } from "../lib/explain";
import { bytes, count, percent, plural, when } from "../lib/format";
import { type AccountKey, type SortOrder, displayName, sortAccounts } from "../lib/sort";

export interface DiscoverProps {
  host: HostInfo;
  source: Source | null;
  snapshot: Snapshot | null;
  running: boolean;
  error: CommandError | null;
  /** The admin asked to pick another server while a result is shown. */
  choosing: boolean;
  sourceKind: SourceKind;
  root: string;
  sort: SortOrder;
  expanded: ReadonlySet<string>;
  projectFile: string;
  /** A question waiting for the admin before something that cannot be undone. */
  confirm: DiscoverConfirm | null;
  decisions: Decision[];
}

/** What waits for a yes: forgetting the migration, or replacing it with another server's. */
export type DiscoverConfirm = "start_over" | "replace";

export interface DiscoverActions {
  setSourceKind(kind: SourceKind): void;
  setRoot(root: string): void;
  discover(): void;
  rerun(): void;
  chooseAnother(): void;
  cancelChoose(): void;
  /** Asks first (`confirm`), then does it on `confirmed`. */
  startOver(): void;
  chooseFolder(): void;
  confirmed(): void;
  cancelConfirm(): void;
  decide(code: string, subject: string, decision: string): void;
  sortBy(key: AccountKey): void;
  toggleFolders(id: string): void;
}

export const DISCOVER_LEAD =
  "Ferry reads the old server's mail settings and mail store to list what there is to move: domains, accounts, folders and sizes. It only reads: nothing on the server changes.";

/** The Discover step's body (the wizard's frame adds the title and Back/Continue). */
export function discoverBody(p: DiscoverProps, a: DiscoverActions): (HTMLElement | null)[] {
  const inventory = p.snapshot?.inventory ?? null;
  const showForm = !inventory || p.choosing;
  return [
    p.confirm && inventory ? confirmPanel(p.confirm, inventory, a) : null,
    showForm ? sourceForm(p, a, inventory !== null) : null,
    p.running ? runningNote() : null,
    p.error ? errorPanel(p.error, p.host.os) : null,
    inventory && !showForm && p.snapshot && p.source ? results(p.source, p.snapshot, inventory, p, a) : null,
  ];
}

function sourceForm(p: DiscoverProps, a: DiscoverActions, canCancel: boolean): HTMLElement {
  const option = (kind: SourceKind, title: string, text: string, disabled: boolean, extra?: HTMLElement) =>
    h(
      "label",
      { class: `source-option${p.sourceKind === kind ? " chosen" : ""}${disabled ? " disabled" : ""}` },
      h("input", {
        type: "radio",
        name: "source",
        value: kind,
        "data-testid": `source-${kind}`,
        checked: p.sourceKind === kind,
        disabled,
        onchange: () => a.setSourceKind(kind),
      }),
      h("span", { class: "source-body" }, h("span", { class: "source-title" }, title), h("span", { class: "source-text" }, text), extra ?? null),
    );
  const rootInput = h("input", {
    type: "text",
    class: "path-input",
    "data-testid": "root-input",
    "aria-label": "Folder holding the copy of the server",
    placeholder: "/Volumes/Backup/old-server",
    value: p.root,
    spellcheck: "false",
    autocomplete: "off",
    disabled: p.sourceKind !== "copy",
    oninput: (e: Event) => a.setRoot((e.target as HTMLInputElement).value),
  });
  const pathRow = h(
    "span",
    { class: "path-row" },
    rootInput,
    h(
      "button",
      { type: "button", class: "secondary", "data-testid": "choose-folder", disabled: p.sourceKind !== "copy" || p.running, onclick: () => a.chooseFolder() },
      "Choose…",
    ),
  );
  return h(
    "form",
    {
      class: "card source-form",
      "data-testid": "source-form",
      onsubmit: (e: Event) => {
        e.preventDefault();
        a.discover();
      },
    },
    h("h2", {}, "Where is the old server?"),
    h(
      "div",
      { class: "source-options", role: "radiogroup" },
      option(
        "this_mac",
        "This Mac",
        p.host.this_mac_available
          ? "Ferry is running on the old server itself and reads its live files."
          : "Only when Ferry runs on the old Mac itself. On this computer, use a copy.",
        !p.host.this_mac_available,
      ),
      option(
        "copy",
        "A copy of the server's files",
        "For a rehearsal, or a server too old to run Ferry: a folder holding a copy of the old server's disk (it contains Library/Server/Mail) and the saved output of its serveradmin and dscl in a commands folder.",
        false,
        pathRow,
      ),
    ),
    h(
      "div",
      { class: "actions" },
      h(
        "button",
        { type: "submit", class: "primary", "data-testid": "discover-button", disabled: p.running },
        p.running ? "Discovering…" : canCancel ? "Discover this server" : "Discover",
      ),
      canCancel ? h("button", { type: "button", class: "quiet", onclick: () => a.cancelChoose() }, "Cancel") : null,
    ),
  );
}

function confirmPanel(kind: DiscoverConfirm, inv: Inventory, a: DiscoverActions): HTMLElement {
  const what = `${inv.hostname}: ${plural(inv.accounts.length, "account")}, ${bytes(inv.totals.bytes)}`;
  const [title, text, yes] =
    kind === "start_over"
      ? [
          "Start over?",
          `Ferry forgets this migration (${what}) and everything recorded for it, and asks for a server again. Your servers and any mail already copied are not changed.`,
          "Forget this migration",
        ]
      : [
          "Replace this migration?",
          `Discovering another server replaces the migration of ${what}: Ferry forgets what it recorded for it. Your servers and any mail already copied are not changed.`,
          "Replace it",
        ];
  return h(
    "div",
    { class: "card confirm", role: "alertdialog", "aria-labelledby": "confirm-title", "data-testid": `confirm-${kind}` },
    h("h2", { id: "confirm-title" }, title),
    h("p", {}, text),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "primary danger-fill", "data-testid": "confirm-yes", onclick: () => a.confirmed() }, yes),
      h("button", { type: "button", class: "secondary", "data-testid": "confirm-no", onclick: () => a.cancelConfirm() }, "Cancel"),
    ),
  );
}

function runningNote(): HTMLElement {
  return h(
    "div",
    { class: "card running", role: "status", "data-testid": "running" },
    h("span", { class: "spinner", "aria-hidden": "true" }),
    h("span", {}, "Reading the server's configuration and counting every message in the store. This can take a minute on a large server."),
  );
}

function errorPanel(err: CommandError, os: string): HTMLElement {
  const help = explainError(err, os);
  return h(
    "div",
    { class: "card error", role: "alert", "data-testid": "error", "data-code": err.code },
    h("h2", {}, help.title),
    h("p", { class: "error-message", "data-testid": "error-message" }, err.message),
    h("h3", {}, "How to fix it"),
    h("ol", { class: "fix-steps", "data-testid": "error-fix" }, help.steps.map((s) => h("li", {}, s))),
  );
}

function results(source: Source, snapshot: Snapshot, inv: Inventory, p: DiscoverProps, a: DiscoverActions): HTMLElement {
  const where = source.kind === "this_mac" ? "this Mac" : source.root;
  return h(
    "div",
    { class: "results", "data-testid": "results" },
    h(
      "div",
      { class: "source-line" },
      h(
        "div",
        { class: "source-where" },
        h("strong", { "data-testid": "hostname" }, inv.hostname),
        h("span", { class: "sub" }, `Read from ${where} on ${when(snapshot.taken_at)}`),
      ),
      h(
        "div",
        { class: "actions" },
        h("button", { class: "secondary", "data-testid": "rerun", disabled: p.running, onclick: () => a.rerun() }, "Run again"),
        h("button", { class: "quiet", "data-testid": "choose-another", disabled: p.running, onclick: () => a.chooseAnother() }, "Other server…"),
        h("button", { class: "quiet danger", "data-testid": "start-over", disabled: p.running, onclick: () => a.startOver() }, "Start over"),
      ),
    ),
    summary(inv),
    accountsTable(inv, p, a),
    warnings(inv.warnings, p.decisions, a),
    otherMailboxes(inv, p, a),
    aliases(inv),
    h(
      "p",
      { class: "footnote" },
      inv.non_mail_users.length > 0
        ? `Directory users without mail, not migrated: ${inv.non_mail_users.join(", ")}. `
        : null,
      `Ferry remembers this migration in ${p.projectFile}.`,
    ),
  );
}

function summary(inv: Inventory): HTMLElement {
  const tile = (id: string, value: string, label: string, sub?: string) =>
    h("div", { class: "tile", "data-testid": `summary-${id}` }, h("span", { class: "tile-value" }, value), h("span", { class: "tile-label" }, label), sub ? h("span", { class: "tile-sub" }, sub) : null);
  const t = inv.totals;
  return h(
    "div",
    { class: "tiles" },
    tile("accounts", count(inv.accounts.length), inv.accounts.length === 1 ? "account" : "accounts", plural(t.folders, "folder")),
    tile("messages", count(t.messages), t.messages === 1 ? "message" : "messages", t.deleted_pending > 0 ? `${count(t.deleted_pending)} deleted, not purged` : undefined),
    tile("size", bytes(t.bytes), "of mail to copy"),
    tile("domains", count(inv.domains.length), inv.domains.length === 1 ? "domain" : "domains", inv.domains.join(", ")),
    tile("warnings", count(inv.warnings.length), inv.warnings.length === 1 ? "warning" : "warnings", inv.warnings.length ? "read them below" : "nothing to check"),
  );
}

function warnings(list: Warning[], decisions: Decision[], a: DiscoverActions): HTMLElement | null {
  if (list.length === 0) {
    return h("div", { class: "card ok", "data-testid": "no-warnings" }, "Nothing unusual found: every account, address and mailbox fits together.");
  }
  const decided = (w: Warning) => decisions.find((d) => d.code === w.code && d.subject === (w.subject ?? ""));
  const open = list.filter((w) => !decided(w)).length;
  return h(
    "section",
    { class: "card warnings", "data-testid": "warnings" },
    h("h2", {}, open > 0 ? `Needs your decision (${open} of ${list.length})` : `Decided (${list.length})`),
    h("p", { class: "section-lead" }, "None of these stop the migration. Each says what Ferry found and what you should decide; record your decision with the buttons, so this step is done."),
    h(
      "ul",
      { class: "warning-list" },
      list.map((w) => {
        const ex = explainWarning(w.code);
        const d = decided(w);
        const subject = w.subject ?? "";
        const choices = decisionChoices(w.code);
        return h(
          "li",
          { class: `warning${d ? " decided" : ""}`, "data-testid": `warning-${w.code}`, "data-code": w.code },
          h("div", { class: "warning-head" }, h("span", { class: "warning-icon", "aria-hidden": "true" }, d ? "✓" : "!"), h("strong", {}, ex.title), w.subject ? h("span", { class: "chip" }, w.subject) : null),
          h("p", { class: "warning-found" }, w.message),
          h("p", { class: "warning-todo" }, h("span", { class: "label" }, "What to do: "), ex.todo),
          d
            ? h(
                "p",
                { class: "decision", "data-testid": "decision" },
                h("span", { class: "label" }, "Your decision: "),
                choices.find((c) => c.value === d.decision)?.label ?? d.decision,
                choices
                  .filter((c) => c.value !== d.decision)
                  .map((c) => h("button", { type: "button", class: "quiet small", "data-testid": `decide-${c.value}`, onclick: () => a.decide(w.code, subject, c.value) }, `Change to: ${c.label}`)),
              )
            : h(
                "div",
                { class: "actions decision-choices" },
                choices.map((c) =>
                  h("button", { type: "button", class: "secondary small", "data-testid": `decide-${c.value}`, onclick: () => a.decide(w.code, subject, c.value) }, c.label),
                ),
              ),
        );
      }),
    ),
  );
}

const STATE_TEXT: Record<AccountState, string> = { active: "Active", forwarding: "Forwarding", disabled: "Mail off" };

const COLUMNS: { key: AccountKey; label: string; numeric?: boolean }[] = [
  { key: "name", label: "Name" },
  { key: "address", label: "Addresses" },
  { key: "state", label: "State" },
  { key: "quota", label: "Quota", numeric: true },
  { key: "messages", label: "Messages", numeric: true },
  { key: "bytes", label: "Size", numeric: true },
];

function accountsTable(inv: Inventory, p: DiscoverProps, a: DiscoverActions): HTMLElement {
  const sorted = sortAccounts(inv.accounts, p.sort);
  const biggest = Math.max(0, ...inv.accounts.map((x) => x.bytes));
  const head = h(
    "tr",
    {},
    COLUMNS.map((c) =>
      h(
        "th",
        { scope: "col", class: c.numeric ? "num" : null, "aria-sort": p.sort.key === c.key ? p.sort.direction : "none" },
        h(
          "button",
          { class: "sort", "data-testid": `sort-${c.key}`, onclick: () => a.sortBy(c.key) },
          c.label,
          h("span", { class: "sort-mark", "aria-hidden": "true" }, p.sort.key === c.key ? (p.sort.direction === "ascending" ? " ▲" : " ▼") : ""),
        ),
      ),
    ),
    h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Folders")),
  );
  const rows: HTMLElement[] = [];
  for (const acc of sorted) {
    const open = p.expanded.has(acc.guid);
    rows.push(accountRow(acc, biggest, open, a));
    if (open) rows.push(foldersRow(acc.guid, acc.folders, COLUMNS.length + 1));
  }
  return h(
    "section",
    { class: "card" },
    h("h2", {}, `Accounts (${inv.accounts.length})`),
    h("p", { class: "section-lead" }, "Every mail user of the old server. Click a column to sort; the bar shows each mailbox's size against the largest one."),
    h("table", { class: "accounts", "data-testid": "accounts-table" }, h("thead", {}, head), h("tbody", {}, rows)),
  );
}

function accountRow(acc: Account, biggest: number, open: boolean, a: DiscoverActions): HTMLElement {
  const [primary, ...more] = acc.addresses;
  const quota =
    acc.quota_bytes === null
      ? h("span", { class: "muted" }, "none")
      : h("span", {}, quotaText(acc.quota_bytes), acc.quota_used_bytes !== null ? h("span", { class: "sub" }, `${bytes(acc.quota_used_bytes)} used`) : null);
  return h(
    "tr",
    { "data-testid": `account-${acc.short_name}`, class: acc.state === "active" ? null : "inactive" },
    h("td", {}, h("span", { class: "name" }, displayName(acc)), h("span", { class: "sub mono" }, acc.short_name)),
    h(
      "td",
      {},
      primary ? h("span", { class: "mono" }, primary) : h("span", { class: "muted" }, "no address"),
      more.length > 0 ? h("span", { class: "sub", title: more.join("\n") }, `+ ${plural(more.length, "more address", "more addresses")}`) : null,
    ),
    h(
      "td",
      {},
      h("span", { class: `badge state-${acc.state}`, "data-testid": "state" }, STATE_TEXT[acc.state]),
      acc.state === "forwarding" && acc.forward_to ? h("span", { class: "sub mono" }, `to ${acc.forward_to}`) : null,
    ),
    h("td", { class: "num" }, quota),
    h("td", { class: "num", "data-testid": "messages" }, h("span", { class: "count" }, count(acc.messages)), acc.deleted_pending > 0 ? h("span", { class: "sub" }, `${count(acc.deleted_pending)} deleted`) : null),
    h(
      "td",
      { class: "num size-cell" },
      sizeBar(percent(acc.bytes, biggest)),
      h("span", { "data-testid": "size" }, bytes(acc.bytes)),
    ),
    h(
      "td",
      {},
      acc.store === null
        ? h("span", { class: "muted" }, "no store")
        : h(
            "button",
            { class: "quiet small", "aria-expanded": open ? "true" : "false", "data-testid": `folders-${acc.short_name}`, onclick: () => a.toggleFolders(acc.guid) },
            `${plural(acc.folders.length, "folder")} ${open ? "▾" : "▸"}`,
          ),
    ),
  );
}

/** Quotas as Server.app sets them: whole "MB" of 1,048,576 bytes, shown as MiB like every size. */
function quotaText(quotaBytes: number): string {
  const mib = quotaBytes / 1_048_576;
  return Number.isInteger(mib) ? `${count(mib)} MiB` : bytes(quotaBytes);
}

/** A bar of `pct` percent. The width is set through the CSSOM: the CSP forbids style attributes. */
function sizeBar(pct: number): HTMLElement {
  const fill = h("span", { class: "bar-fill" });
  fill.style.width = `${pct.toFixed(1)}%`;
  return h("span", { class: "bar", "aria-hidden": "true" }, fill);
}

const ROLE_TEXT: Record<FolderRole, string> = {
  inbox: "Inbox",
  sent: "Sent",
  drafts: "Drafts",
  trash: "Trash",
  junk: "Junk",
  archive: "Archive",
  notes: "Notes",
};

function foldersRow(id: string, folders: Folder[], span: number): HTMLElement {
  return h(
    "tr",
    { class: "folders-row", "data-testid": `folders-of-${id}` },
    h(
      "td",
      { colspan: span },
      folders.length === 0
        ? h("p", { class: "muted" }, "No folders.")
        : h(
            "table",
            { class: "folders" },
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Folder"), h("th", { scope: "col" }, "Kind"), h("th", { scope: "col", class: "num" }, "Messages"), h("th", { scope: "col", class: "num" }, "Size"))),
            h(
              "tbody",
              {},
              folders.map((f) =>
                h(
                  "tr",
                  { "data-testid": "folder" },
                  h("td", { class: "mono" }, f.name === "" ? "INBOX" : f.name),
                  h(
                    "td",
                    {},
                    f.role ? h("span", { class: "chip" }, ROLE_TEXT[f.role]) : null,
                    f.subscribed ? null : h("span", { class: "sub", title: "Not in the user's subscription list: their mail app hides this folder. It is copied all the same." }, "not shown in mail apps"),
                  ),
                  h("td", { class: "num" }, count(f.messages), f.deleted_pending > 0 ? h("span", { class: "sub" }, `${count(f.deleted_pending)} deleted`) : null),
                  h("td", { class: "num" }, bytes(f.bytes)),
                ),
              ),
            ),
          ),
    ),
  );
}

function otherMailboxes(inv: Inventory, p: DiscoverProps, a: DiscoverActions): HTMLElement | null {
  if (inv.training_mailboxes.length === 0 && inv.orphans.length === 0) return null;
  return h(
    "section",
    { class: "card", "data-testid": "other-mailboxes" },
    h("h2", {}, "Other mailboxes"),
    inv.training_mailboxes.length > 0
      ? h(
          "div",
          { "data-testid": "training" },
          h("h3", {}, "Junk-mail training"),
          h("p", { class: "section-lead" }, "macOS Server's spam filter learns from these two mailboxes: users forward spam to one and wrongly-flagged mail to the other. They are not people's mail, and the new host has its own filter, so they are not copied."),
          h(
            "ul",
            { class: "plain" },
            inv.training_mailboxes.map((t) =>
              h("li", { "data-testid": `training-${t.short_name}` }, h("span", { class: "mono" }, t.addresses[0] ?? t.short_name), ` — ${t.kind === "junk" ? "spam examples" : "not-spam examples"}, ${plural(t.messages, "message")}, ${bytes(t.bytes)}`),
            ),
          ),
        )
      : null,
    inv.orphans.length > 0
      ? h(
          "div",
          { "data-testid": "orphans" },
          h("h3", {}, "Mail without a user"),
          h("p", { class: "section-lead" }, "These stores belong to users who were deleted from the directory. Ferry does not copy them unless you decide to; keep them if someone may still need that mail."),
          h(
            "ul",
            { class: "plain" },
            inv.orphans.map((o) =>
              h(
                "li",
                { "data-testid": `orphan-${o.guid}` },
                h("span", { class: "mono" }, o.guid),
                ` — ${plural(o.messages, "message")}, ${bytes(o.bytes)} `,
                h(
                  "button",
                  { class: "quiet small", "aria-expanded": p.expanded.has(o.guid) ? "true" : "false", onclick: () => a.toggleFolders(o.guid) },
                  `${plural(o.folders.length, "folder")} ${p.expanded.has(o.guid) ? "▾" : "▸"}`,
                ),
                p.expanded.has(o.guid) ? h("table", { class: "inline-table" }, h("tbody", {}, foldersRow(o.guid, o.folders, 1))) : null,
              ),
            ),
          ),
        )
      : null,
  );
}

function aliases(inv: Inventory): HTMLElement | null {
  const list = inv.aliases.filter((x) => !x.system);
  const system = inv.aliases.filter((x) => x.system);
  if (inv.aliases.length === 0) return null;
  return h(
    "section",
    { class: "card", "data-testid": "aliases" },
    h("h2", {}, `Aliases (${list.length})`),
    h("p", { class: "section-lead" }, "Extra addresses that deliver to accounts. Create them on the new host as aliases, or they will bounce after the switch."),
    list.length > 0
      ? h(
          "table",
          { class: "aliases" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Alias"), h("th", { scope: "col" }, "Delivers to"))),
          h(
            "tbody",
            {},
            list.map((al) =>
              h(
                "tr",
                {},
                h("td", { class: "mono" }, al.addresses.length ? al.addresses.join(", ") : al.name),
                h("td", { class: "mono" }, al.delivers_to.length ? al.delivers_to.join(", ") : al.targets.join(", ")),
              ),
            ),
          ),
        )
      : null,
    system.length > 0 ? h("p", { class: "footnote" }, `System aliases (not migrated, the new host has its own): ${system.map((s) => s.name).join(", ")}.`) : null,
  );
}
