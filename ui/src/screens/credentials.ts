// Step 3, Credentials: each moving account's password on the new host (stored in the system's
// password store, never shown again and never sent back to this screen), and a login check per
// account with what to do when one fails.
import type { CommandError } from "../bindings/CommandError";
import type { Destination } from "../bindings/Destination";
import type { LoginCheckRecord } from "../bindings/LoginCheckRecord";
import type { PlannedAccount } from "../bindings/PlannedAccount";
import { h } from "../lib/dom";
import { when } from "../lib/format";

export interface CredentialsProps {
  destination: Destination | null;
  plan: PlannedAccount[];
  checks: LoginCheckRecord[];
  /** Passwords typed and not yet stored, by old address (kept only until stored). */
  typed: Readonly<Record<string, string>>;
  /** Accounts whose password was stored in this session. */
  stored: ReadonlySet<string>;
  shown: ReadonlySet<string>;
  busy: boolean;
  error: CommandError | null;
  /** Passwords on the old server for accounts read over IMAP (source_imap.ts). */
  sourceImap?: HTMLElement | null;
  /** A host Ferry signs in to as the admin's app (oauth.ts): its mailbox check instead of password fields. */
  oauth?: (HTMLElement | null)[] | null;
  /** The passwords from a file the admin already has (credentials_import.ts), above the table; password hosts only. */
  passwordImport?: HTMLElement | null;
}

export interface CredentialsActions {
  type(account: string, value: string): void;
  toggleShown(account: string): void;
  storeAll(): void;
  check(): void;
}

export const CREDENTIALS_LEAD =
  "Ferry signs in to the new host as each user to copy their mail. Type each account's password there; Ferry keeps it in the system's password store and never shows it again.";

const STATUS_TEXT: Record<string, string> = {
  ok: "Signs in",
  missing_password: "No password yet",
  wrong_password: "Wrong password",
  no_such_user: "No such user on the new host",
  not_authorized: "Not allowed",
  account_disabled: "Account disabled",
  certificate_problem: "Certificate problem",
  tls_problem: "Secure connection failed",
  unreachable: "Host unreachable",
  throttled: "Host asks to slow down",
  too_many_connections: "Too many connections",
  failed: "Failed",
};

export function credentialsBody(p: CredentialsProps, a: CredentialsActions): (HTMLElement | null)[] {
  if (!p.destination) {
    return [h("div", { class: "notice", "data-testid": "empty" }, "Choose the new mail host first (step 2): the passwords are for accounts there.")];
  }
  if (p.oauth) return [...p.oauth, p.sourceImap ?? null];
  const accounts = p.plan.filter((x) => x.included && x.present && x.kind === "user");
  const last = (acc: string) => p.checks.filter((c) => c.account === acc && c.side === "destination").sort((x, y) => y.checked_at - x.checked_at)[0];
  const ok = accounts.filter((acc) => last(acc.source_address)?.status === "ok").length;
  // every password is in (typed and stored, or imported from a file) and not all sign in yet:
  // checking the logins is the next step
  const checkNext = ok < accounts.length && accounts.length > 0 && accounts.every((acc) => p.stored.has(acc.source_address));
  return [
    p.error ? h("div", { class: "card error", role: "alert", "data-testid": "error", "data-code": p.error.code }, h("h2", {}, "That did not work"), h("p", { "data-testid": "error-message" }, p.error.message)) : null,
    p.passwordImport ?? null,
    h(
      "section",
      { class: "card", "data-testid": "passwords" },
      h("h2", {}, `Passwords on ${p.destination.name} (${ok} of ${accounts.length} sign in)`),
      h("p", { class: "section-lead" }, p.destination.signIn.appPasswordRequires ?? "Use each user's password on the new host (or an app password where the host asks for one)."),
      h(
        "table",
        { class: "credentials-table" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Account"), h("th", { scope: "col" }, "Signs in as"), h("th", { scope: "col" }, "Password"), h("th", { scope: "col" }, "Login check"))),
        h(
          "tbody",
          {},
          accounts.map((acc) => {
            const check = last(acc.source_address);
            const shown = p.shown.has(acc.source_address);
            return h(
              "tr",
              { "data-testid": `cred-${acc.login}` },
              h("td", { class: "mono" }, acc.source_address),
              h("td", { class: "mono" }, acc.dest_address),
              h(
                "td",
                {},
                h(
                  "span",
                  { class: "path-row password-row" },
                  h("input", {
                    type: shown ? "text" : "password",
                    class: "password-input",
                    "data-testid": "password",
                    autocomplete: "off",
                    spellcheck: "false",
                    placeholder: p.stored.has(acc.source_address) ? "Stored (type to replace)" : "Password on the new host",
                    value: p.typed[acc.source_address] ?? "",
                    oninput: (e: Event) => a.type(acc.source_address, (e.target as HTMLInputElement).value),
                  }),
                  h("button", { type: "button", class: "quiet small", "data-testid": "show-password", "aria-pressed": shown ? "true" : "false", onclick: () => a.toggleShown(acc.source_address) }, shown ? "Hide" : "Show"),
                ),
              ),
              h(
                "td",
                { "data-testid": "check" },
                check
                  ? h(
                      "span",
                      {},
                      h("span", { class: `badge ${check.status === "ok" ? "state-active" : "state-bad"}`, "data-testid": "check-status", "data-status": check.status }, STATUS_TEXT[check.status] ?? check.status),
                      check.advice ? h("span", { class: "sub" }, check.advice) : null,
                      h("span", { class: "sub" }, `Checked ${when(check.checked_at)}`),
                    )
                  : h("span", { class: "muted" }, "Not checked yet"),
              ),
            );
          }),
        ),
      ),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: ok === accounts.length || checkNext ? "secondary" : "primary", "data-testid": "store-passwords", disabled: p.busy, onclick: () => a.storeAll() }, "Store passwords"),
        h("button", { type: "button", class: checkNext ? "primary" : "secondary", "data-testid": "check-logins", disabled: p.busy, onclick: () => a.check() }, p.busy ? "Checking…" : "Check logins"),
      ),
    ),
    p.sourceImap ?? null,
  ];
}
