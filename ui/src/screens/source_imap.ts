// The old server's IMAP service, for accounts read over IMAP instead of from the store on disk
// (a copy of the server made before the last mail arrived, or a server Ferry does not run on).
// Two sections with one state: on Destination, how Ferry reaches that service (host, port,
// security, its certificate compared and trusted); on Credentials, each such account's password
// on the old server and its login check there. Passwords go one way, as on the new host's side.
import type { AppView } from "../bindings/AppView";
import type { CertificateInfo } from "../bindings/CertificateInfo";
import type { CommandError } from "../bindings/CommandError";
import type { LoginCheckRecord } from "../bindings/LoginCheckRecord";
import type { PlannedAccount } from "../bindings/PlannedAccount";
import type { Security } from "../bindings/Security";
import type { SourceImap } from "../bindings/SourceImap";
import type { Host } from "../ipc/types";
import { asCommandError } from "../ipc/types";
import { h } from "../lib/dom";
import { plural, when } from "../lib/format";

export interface SourceImapForm {
  host: string;
  port: string;
  security: Security;
}

/** The included accounts read over the old server's IMAP service. */
export function accountsOverImap(view: AppView): PlannedAccount[] {
  return view.plan.filter((a) => a.included && a.present && a.kind === "user" && a.method === "imap");
}

const SECURITY_TEXT: Record<Security, string> = { tls: "TLS", startTls: "STARTTLS", plain: "no encryption" };

const STATUS_TEXT: Record<string, string> = {
  ok: "Signs in",
  missing_password: "No password yet",
  wrong_password: "Wrong password",
  no_such_user: "No such user on the old server",
  not_authorized: "Not allowed",
  account_disabled: "Account disabled",
  certificate_problem: "Certificate problem",
  tls_problem: "Secure connection failed",
  unreachable: "Old server unreachable",
  throttled: "Server asks to slow down",
  too_many_connections: "Too many connections",
  failed: "Failed",
};

/** What to do, in the app's words, for the statuses whose advice from the check is worded for
 * the command line; other statuses keep the check's own advice. */
export function sourceAdvice(check: LoginCheckRecord, login: string): string {
  switch (check.status) {
    case "ok":
      return "";
    case "missing_password":
      return "Type the user's password on the old server in this row, then click Store old-server passwords.";
    case "wrong_password":
      return `The old server refused this password, or has no user ${login} (it does not say which). Type the user's password on the old server again and store it.`;
    case "certificate_problem":
      return "The old server's certificate is not the one you trusted. Check it again in step 2, Destination (Change…), and trust it only if its fingerprint matches the old server's.";
    default:
      return check.advice;
  }
}

/** Whether `host` is this computer, where Ferry allows a connection without encryption. */
export function isLoopback(host: string): boolean {
  const name = host.trim().replace(/\.$/, "").replace(/^\[|\]$/g, "").toLowerCase();
  return name === "localhost" || name === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name) || /^::ffff:127\./.test(name);
}

/** What is wrong with the typed settings, in words; null when they can be used. */
export function sourceFormProblem(f: SourceImapForm): string | null {
  if (f.host.trim() === "") return "Enter the old server's host name (for example mail.example.com).";
  const port = Number(f.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `The port "${f.port}" is not a number from 1 to 65535 (IMAP over TLS uses 993).`;
  if (f.security === "plain" && !isLoopback(f.host)) {
    return `Ferry does not send passwords without encryption across the network, and ${f.host.trim()} is not this computer. Choose TLS (port 993) or STARTTLS (port 143).`;
  }
  return null;
}

function errorCard(error: CommandError | null): HTMLElement | null {
  return error
    ? h("div", { class: "notice error", role: "alert", "data-testid": "source-imap-error", "data-code": error.code }, h("strong", {}, "That did not work: "), error.message)
    : null;
}

/** The state of both sections, kept apart from the wizard's (the wizard only renders them). */
export class SourceImapScreen {
  /** The service as saved: `undefined` until read from the project. */
  saved: SourceImap | null | undefined = undefined;
  form: SourceImapForm | null = null;
  editing = false;
  /** The admin clicked "Read some accounts over IMAP instead…". */
  offered = false;
  certificate: CertificateInfo | null = null;
  trusted = false;
  probing = false;
  busy = false;
  error: CommandError | null = null;
  typed: Record<string, string> = {};
  stored = new Set<string>();
  shown = new Set<string>();
  passwordError: CommandError | null = null;
  private loading = false;

  constructor(
    private readonly host: Host,
    private readonly render: () => void,
    private readonly setView: (view: AppView) => void,
  ) {}

  private load(): void {
    if (this.saved !== undefined || this.loading) return;
    this.loading = true;
    this.host.sourceImap().then(
      (saved) => {
        this.saved = saved;
        this.loading = false;
        this.render();
      },
      (err) => {
        this.saved = null;
        this.loading = false;
        this.error = asCommandError(err);
        this.render();
      },
    );
  }

  private formFor(view: AppView): SourceImapForm {
    if (!this.form) {
      const s = this.saved;
      this.form = s
        ? { host: s.host, port: String(s.port), security: s.security }
        : { host: view.inventory?.inventory.hostname ?? "", port: "993", security: "tls" };
    }
    return this.form;
  }

  // --- Destination ----------------------------------------------------------------------------

  /** The section under the account plan: the form when an account is read over IMAP (or the
   * admin asked for it), else a short link to it. */
  destinationSection(view: AppView): HTMLElement | null {
    if (!view.inventory || !view.destination) return null;
    const accounts = accountsOverImap(view);
    if (accounts.length === 0 && !this.offered && !this.saved) {
      return h(
        "div",
        { class: "actions", "data-testid": "source-imap-offer" },
        h("button", { type: "button", class: "quiet", "data-testid": "source-imap-open", onclick: () => this.open() }, "Read some accounts over IMAP instead…"),
      );
    }
    this.load();
    const lead =
      accounts.length === 0
        ? "Ferry reads each account from the old server's store on disk. To read an account over the old server's IMAP service instead (for mail that arrived after the copy of the server was made), choose IMAP in the Read from column above and tell Ferry here how to reach that service."
        : `${plural(accounts.length, "account")} ${accounts.length === 1 ? "is" : "are"} read over the old server's IMAP service: ${accounts.map((a) => a.source_address).join(", ")}. Ferry signs in there as ${accounts.length === 1 ? "that user" : "each of them"}; the passwords go in the next step, Credentials.`;
    const editing = this.saved === null || this.editing;
    return h(
      "section",
      { class: "card", "data-testid": "source-imap" },
      h("h2", {}, "How Ferry reaches the old server's mail over IMAP"),
      h("p", { class: "section-lead" }, lead),
      errorCard(this.error),
      this.saved === undefined ? h("p", { class: "muted" }, "Reading the saved settings…") : editing ? this.formBody(view) : this.savedBody(this.saved!),
    );
  }

  private open(): void {
    this.offered = true;
    this.render();
  }

  private savedBody(s: SourceImap): HTMLElement {
    return h(
      "div",
      { class: "source-line", "data-testid": "source-imap-saved" },
      h(
        "div",
        { class: "source-where" },
        h("strong", { class: "mono", "data-testid": "source-imap-address" }, `${s.host}:${s.port}`),
        h("span", { class: "sub", "data-testid": "source-imap-security" }, s.security === "plain" ? "No encryption (this computer only)" : s.pinned_sha256 ? `${SECURITY_TEXT[s.security]}, certificate pinned (the fingerprint you trusted)` : `${SECURITY_TEXT[s.security]}, certificate signed by a known authority`),
      ),
      h("div", { class: "actions" }, h("button", { type: "button", class: "quiet", "data-testid": "source-imap-change", onclick: () => this.edit() }, "Change…")),
    );
  }

  private edit(): void {
    this.editing = true;
    this.form = null;
    this.certificate = null;
    this.trusted = false;
    this.error = null;
    this.render();
  }

  private formBody(view: AppView): HTMLElement {
    const f = this.formFor(view);
    const encrypted = f.security !== "plain";
    const needsTrust = this.certificate !== null && this.certificate.reason !== "";
    // TLS and STARTTLS: the certificate is looked at before anything is kept (the old server's is
    // usually self-signed, and the sync would be refused without the admin's word on it).
    const blocker = this.busy
      ? null
      : encrypted && !this.certificate
        ? "Check the old server's certificate first."
        : encrypted && needsTrust && !this.trusted
          ? "Compare and trust the certificate first."
          : null;
    return h(
      "div",
      {},
      h(
        "div",
        { class: "host-form", "data-testid": "source-imap-form" },
        h(
          "label",
          { class: "field" },
          h("span", {}, "Old server (IMAP)"),
          h("input", { type: "text", "data-testid": "source-imap-host", value: f.host, placeholder: "mail.example.com", spellcheck: "false", oninput: (e: Event) => this.setField("host", (e.target as HTMLInputElement).value) }),
        ),
        h(
          "label",
          { class: "field small" },
          h("span", {}, "Port"),
          h("input", { type: "text", inputmode: "numeric", "data-testid": "source-imap-port", value: f.port, oninput: (e: Event) => this.setField("port", (e.target as HTMLInputElement).value) }),
        ),
        h(
          "label",
          { class: "field small" },
          h("span", {}, "Security"),
          h(
            "select",
            { "data-testid": "source-imap-security-choice", onchange: (e: Event) => this.setSecurity((e.target as HTMLSelectElement).value as Security) },
            (["tls", "startTls", "plain"] as Security[]).map((s) => h("option", { value: s, selected: f.security === s }, s === "tls" ? "TLS (993)" : s === "startTls" ? "STARTTLS (143)" : "None (this computer only)")),
          ),
        ),
        h("button", { type: "button", class: "secondary", "data-testid": "source-imap-check", disabled: this.busy || !encrypted, onclick: () => void this.checkCertificate() }, this.probing ? "Checking…" : "Check certificate"),
      ),
      encrypted
        ? null
        : h("p", { class: "footnote", "data-testid": "source-imap-plain-note" }, "Without encryption the passwords cross the connection in clear text, so Ferry allows it only to this computer (127.0.0.1 or localhost), for example through an SSH tunnel to the old server."),
      this.certificate ? this.certificateCard(this.certificate) : null,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "primary", "data-testid": "source-imap-save", disabled: this.busy || blocker !== null, onclick: () => void this.save() }, "Use this server"),
        blocker ? h("span", { class: "blocked", "data-testid": "source-imap-blocked" }, blocker) : null,
        this.saved ? h("button", { type: "button", class: "quiet", "data-testid": "source-imap-cancel", onclick: () => this.cancelEdit() }, "Cancel") : null,
      ),
    );
  }

  private cancelEdit(): void {
    this.editing = false;
    this.form = null;
    this.certificate = null;
    this.trusted = false;
    this.error = null;
    this.render();
  }

  private setField(field: "host" | "port", value: string): void {
    // typing does not re-render (the caret stays); a certificate was for the old host or port
    this.form = { ...this.form!, [field]: value };
    if (this.certificate) {
      this.certificate = null;
      this.trusted = false;
      this.render();
    }
  }

  private setSecurity(security: Security): void {
    const port = security === "tls" ? "993" : "143";
    this.form = { ...this.form!, security, port };
    this.certificate = null;
    this.trusted = false;
    this.render();
  }

  private certificateCard(c: CertificateInfo): HTMLElement {
    const known = c.reason === "";
    return h(
      "div",
      { class: `cert${known ? " ok" : ""}`, "data-testid": "source-imap-certificate" },
      h("h3", {}, known ? "The old server's certificate is signed by a known authority" : `The old server's certificate is not trusted by this computer: ${c.reason}`),
      known ? null : h("p", { class: "footnote" }, "An old server usually has a certificate it made itself. On the old server, open that certificate in Keychain Access (or Server.app, Certificates) and compare the SHA-256 fingerprint shown there with this one, or ask whoever set the server up. Trust it only if both match."),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Issued to"),
        h("dd", { class: "mono" }, c.subject),
        h("dt", {}, "Issued by"),
        h("dd", { class: "mono" }, c.issuer),
        h("dt", {}, "Valid"),
        h("dd", {}, `${c.not_before.slice(0, 10)} to ${c.not_after.slice(0, 10)}`),
        h("dt", {}, "SHA-256 fingerprint"),
        h("dd", { class: "mono fingerprint", "data-testid": "source-imap-fingerprint" }, c.sha256.replace(/(..)(?=.)/g, "$1:")),
      ),
      known
        ? null
        : h(
            "label",
            { class: "trust" },
            h("input", {
              type: "checkbox",
              "data-testid": "source-imap-trust",
              checked: this.trusted,
              onchange: (e: Event) => {
                this.trusted = (e.target as HTMLInputElement).checked;
                this.render();
              },
            }),
            " I compared this fingerprint with the old server's. Trust exactly this certificate for the old server.",
          ),
    );
  }

  private async checkCertificate(): Promise<void> {
    const f = this.form;
    if (!f || this.busy) return;
    const invalid = sourceFormProblem(f);
    if (invalid) {
      this.error = { code: "invalid", message: invalid };
      return this.render();
    }
    this.busy = true;
    this.probing = true;
    this.error = null;
    this.certificate = null;
    this.trusted = false;
    this.render();
    try {
      this.certificate = await this.host.probeCertificate(f.host.trim(), Number(f.port), f.security);
    } catch (err) {
      this.error = asCommandError(err);
    }
    this.busy = false;
    this.probing = false;
    this.render();
  }

  private async save(): Promise<void> {
    const f = this.form;
    if (!f || this.busy) return;
    const invalid = sourceFormProblem(f);
    if (invalid) {
      this.error = { code: "invalid", message: invalid };
      return this.render();
    }
    const c = this.certificate;
    this.busy = true;
    this.error = null;
    this.render();
    try {
      this.saved = await this.host.setSourceImap({
        host: f.host.trim(),
        port: Number(f.port),
        security: f.security,
        pinned_sha256: f.security !== "plain" && c && c.reason !== "" && this.trusted ? c.sha256 : null,
      });
      this.editing = false;
      this.form = null;
      this.certificate = null;
      this.trusted = false;
    } catch (err) {
      this.error = asCommandError(err);
    }
    this.busy = false;
    this.render();
  }

  // --- Credentials ----------------------------------------------------------------------------

  /** Each account read over IMAP: its password on the old server and its login check there. */
  credentialsSection(view: AppView): HTMLElement | null {
    if (!view.destination) return null;
    const accounts = accountsOverImap(view);
    if (accounts.length === 0) return null;
    this.load();
    const last = (account: string): LoginCheckRecord | undefined =>
      view.login_checks.filter((c) => c.account === account && c.side === "source").sort((x, y) => y.checked_at - x.checked_at)[0];
    const ok = accounts.filter((a) => last(a.source_address)?.status === "ok").length;
    const s = this.saved;
    return h(
      "section",
      { class: "card", "data-testid": "source-passwords" },
      h("h2", {}, `Passwords on the old server (${ok} of ${accounts.length} sign in)`),
      s
        ? h(
            "p",
            { class: "section-lead" },
            `${accounts.length === 1 ? "This account is" : "These accounts are"} read over the old server's IMAP service at `,
            h("span", { class: "mono" }, `${s.host}:${s.port}`),
            ". Type each user's password on the old server; Ferry keeps it in the system's password store and never shows it again. The Check logins button above tries these too.",
          )
        : s === null
          ? h("p", { class: "notice", "data-testid": "source-imap-missing" }, "Ferry does not know yet how to reach the old server over IMAP. Go back to step 2, Destination, and fill in the old server's IMAP settings below the accounts.")
          : h("p", { class: "muted" }, "Reading the saved settings…"),
      this.passwordError
        ? h("div", { class: "notice error", role: "alert", "data-testid": "source-password-error", "data-code": this.passwordError.code }, h("strong", {}, "That did not work: "), this.passwordError.message)
        : null,
      h(
        "table",
        { class: "credentials-table" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Account"), h("th", { scope: "col" }, "Signs in as"), h("th", { scope: "col" }, "Password on the old server"), h("th", { scope: "col" }, "Login check"))),
        h(
          "tbody",
          {},
          accounts.map((acc) => {
            const check = last(acc.source_address);
            const shown = this.shown.has(acc.source_address);
            return h(
              "tr",
              { "data-testid": `source-cred-${acc.login}` },
              h("td", { class: "mono" }, acc.source_address),
              h("td", { class: "mono" }, acc.login),
              h(
                "td",
                {},
                h(
                  "span",
                  { class: "path-row password-row" },
                  h("input", {
                    type: shown ? "text" : "password",
                    class: "password-input",
                    "data-testid": "source-password",
                    autocomplete: "off",
                    spellcheck: "false",
                    disabled: !s,
                    placeholder: this.stored.has(acc.source_address) ? "Stored (type to replace)" : "Password on the old server",
                    value: this.typed[acc.source_address] ?? "",
                    oninput: (e: Event) => {
                      // no re-render while typing: the field keeps its caret
                      this.typed = { ...this.typed, [acc.source_address]: (e.target as HTMLInputElement).value };
                    },
                  }),
                  h("button", { type: "button", class: "quiet small", "data-testid": "source-show-password", "aria-pressed": shown ? "true" : "false", onclick: () => this.toggleShown(acc.source_address) }, shown ? "Hide" : "Show"),
                ),
              ),
              h(
                "td",
                { "data-testid": "source-check" },
                check
                  ? h(
                      "span",
                      {},
                      h("span", { class: `badge ${check.status === "ok" ? "state-active" : "state-bad"}`, "data-testid": "source-check-status", "data-status": check.status }, STATUS_TEXT[check.status] ?? check.status),
                      sourceAdvice(check, acc.login) ? h("span", { class: "sub", "data-testid": "source-check-advice" }, sourceAdvice(check, acc.login)) : null,
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
        h("button", { type: "button", class: ok === accounts.length ? "secondary" : "primary", "data-testid": "store-source-passwords", disabled: this.busy || !s, onclick: () => void this.storePasswords() }, this.busy ? "Storing…" : "Store old-server passwords"),
      ),
    );
  }

  private toggleShown(account: string): void {
    if (!this.shown.delete(account)) this.shown.add(account);
    this.render();
  }

  private async storePasswords(): Promise<void> {
    if (this.busy) return;
    const typed = Object.entries(this.typed).filter(([, v]) => v !== "");
    if (typed.length === 0) {
      this.passwordError = { code: "invalid", message: "Type a password on the old server in at least one row first." };
      return this.render();
    }
    this.busy = true;
    this.passwordError = null;
    this.render();
    try {
      for (const [account, password] of typed) {
        const view = await this.host.setSourcePassword(account, password);
        // forget the typed value as soon as it is stored
        const rest = { ...this.typed };
        delete rest[account];
        this.typed = rest;
        this.stored.add(account);
        this.setView(view);
      }
    } catch (err) {
      this.passwordError = asCommandError(err);
    }
    this.busy = false;
    this.render();
  }
}
