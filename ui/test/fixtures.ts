// A small inventory in the shape discovery returns, for screen tests.
import type { Account } from "../src/bindings/Account";
import type { AppView } from "../src/bindings/AppView";
import type { HostInfo } from "../src/bindings/HostInfo";
import type { ImportPreview } from "../src/bindings/ImportPreview";
import type { Inventory } from "../src/bindings/Inventory";
import type { AccountChange } from "../src/bindings/AccountChange";
import type { CheckReport } from "../src/bindings/CheckReport";
import type { DecommissionScreen } from "../src/bindings/DecommissionScreen";
import type { Decision } from "../src/bindings/Decision";
import type { ExportReport } from "../src/bindings/ExportReport";
import type { OpenWhat } from "../src/bindings/OpenWhat";
import type { PasswordImport } from "../src/bindings/PasswordImport";
import type { ProfilesChoice } from "../src/bindings/ProfilesChoice";
import type { QuarantineArchive } from "../src/bindings/QuarantineArchive";
import type { QuarantineTarget } from "../src/bindings/QuarantineTarget";
import type { MessageRef } from "../src/bindings/MessageRef";
import type { ResolvedMessage } from "../src/bindings/ResolvedMessage";
import type { ResolveWay } from "../src/bindings/ResolveWay";
import type { Destination } from "../src/bindings/Destination";
import type { DestinationChoice } from "../src/bindings/DestinationChoice";
import type { JobEvent } from "../src/bindings/JobEvent";
import type { JobKind } from "../src/bindings/JobKind";
import type { PhaseLine } from "../src/bindings/PhaseLine";
import type { PlannedAccount } from "../src/bindings/PlannedAccount";
import type { Review } from "../src/bindings/Review";
import type { DnsReport } from "../src/bindings/DnsReport";
import type { DnsSettings } from "../src/bindings/DnsSettings";
import type { Security } from "../src/bindings/Security";
import type { Source } from "../src/bindings/Source";
import type { SourceImap } from "../src/bindings/SourceImap";
import type { VaultStatus } from "../src/bindings/VaultStatus";
import type { OAuthFile } from "../src/bindings/OAuthFile";
import type { OAuthSignIn } from "../src/bindings/OAuthSignIn";
import type { Host } from "../src/ipc/types";

export function account(short: string, bytes: number, extra: Partial<Account> = {}): Account {
  return {
    short_name: short,
    guid: `GUID-${short}`,
    real_name: null,
    addresses: [`${short}@example.com`],
    state: "active",
    forward_to: null,
    quota_bytes: null,
    quota_used_bytes: null,
    store: `/root/${short}`,
    messages: Math.round(bytes / 1000),
    bytes,
    deleted_pending: 0,
    folders: [
      { name: "INBOX", disk_name: "", role: "inbox", messages: 3, bytes: 3000, deleted_pending: 0, unseen_new: 1, subscribed: true },
      { name: "Rechnungen/2018", disk_name: ".Rechnungen.2018", role: null, messages: 2, bytes: 2000, deleted_pending: 1, unseen_new: 0, subscribed: true },
    ],
    ...extra,
  };
}

export function inventory(): Inventory {
  return {
    root: "/copy",
    hostname: "mail.example.com",
    domains: ["example.com", "example.org"],
    partitions: [{ tag: "default", path: "/Library/Server/Mail/Data/mail" }],
    accounts: [
      account("jdoe", 5_000_000, { real_name: "John Doe", addresses: ["john@example.com", "jd@example.com", "info@example.com"], quota_bytes: 1_073_741_824, quota_used_bytes: 5_000_000 }),
      account("asmith", 12_000_000, { real_name: "Anna Smith", state: "forwarding", forward_to: "anna@elsewhere.example" }),
      account("bmueller", 800_000, { real_name: "Bernd Müller", state: "disabled" }),
    ],
    training_mailboxes: [
      { kind: "junk", short_name: "junkmail", guid: "G-J", addresses: ["junkmail@example.com"], store: null, messages: 4, bytes: 4000 },
    ],
    orphans: [{ guid: "ORPHAN-1", store: "/root/ORPHAN-1", messages: 7, bytes: 7000, folders: [] }],
    aliases: [
      { name: "info", addresses: ["info@example.com"], targets: ["jdoe"], delivers_to: ["jdoe"], system: false },
      { name: "postmaster", addresses: [], targets: ["root"], delivers_to: [], system: true },
    ],
    non_mail_users: ["printer"],
    totals: { accounts: 3, folders: 6, messages: 17800, bytes: 17_800_000, deleted_pending: 3 },
    warnings: [
      { code: "address_not_in_virtual_users", subject: "bmueller", message: "b.mueller@example.org is in the directory but not in virtual_users." },
      { code: "orphan_store", subject: "ORPHAN-1", message: "Store ORPHAN-1 has no user." },
    ],
  };
}

const TITLES = ["Discover", "Destination", "Credentials", "Initial sync", "Review", "DNS prep", "Cut-over", "Profiles", "Final sync", "Quarantine", "Decommission"];
const IDS = ["discover", "destination", "credentials", "initial_sync", "review", "dns_prep", "cutover", "profiles", "final_sync", "quarantine", "decommission"] as const;

export function phases(discover: PhaseLine["state"], note: string | null = null, blockers: Partial<Record<(typeof IDS)[number], string[]>> = {}): PhaseLine[] {
  return IDS.map((phase, i) => ({
    phase,
    number: i + 1,
    title: TITLES[i],
    summary: `${TITLES[i]} summary`,
    state: i === 0 ? discover : "not_started",
    note: i === 0 ? note : null,
    blockers: blockers[phase] ?? (i === 0 ? [] : ["Discover the old server first."]),
  }));
}

export function emptyView(): AppView {
  return {
    status: { phases: phases("not_started"), next: "discover", headline: "Start by discovering the old server.", server: null },
    source: null,
    inventory: null,
    destination: null,
    destination_pin: null,
    oauth: null,
    plan: [],
    decisions: [],
    login_checks: [],
    ttl_wait: null,
    job: null,
    project_file: "/data/migration.ferry",
  };
}

export function planFrom(inv: Inventory): PlannedAccount[] {
  return inv.accounts.map((a) => ({
    source_address: a.addresses[0],
    login: a.short_name,
    guid: a.guid,
    store: a.store,
    dest_address: a.addresses[0],
    included: true,
    method: "store",
    kind: "user",
    messages: a.messages,
    bytes: a.bytes,
    present: true,
  }));
}

export function discoveredView(source: Source): AppView {
  const inv = inventory();
  return {
    ...emptyView(),
    status: { phases: phases("needs_attention", "3 accounts found; 2 warnings to decide on", { credentials: ["Choose the new mail host first."] }), next: "destination", headline: "Choose the new mail host.", server: inv.hostname },
    source,
    inventory: { inventory: inv, taken_at: 1_764_400_000 },
    plan: planFrom(inv),
  };
}

export function generic(host: string, port: number): Destination {
  return {
    preset: "genericImap",
    name: host,
    imap: { host, port, security: "tls" },
    smtp: { host, port: 587, security: "startTls" },
    auth: "password",
    login: "fullAddress",
    imapPathPrefix: null,
    limits: { max_message_size: null, max_connections_per_user: null, daily_upload_bytes: null },
    clientAccount: { kind: "imap" },
    signIn: { accepted: ["password"], appPasswordRequires: null, appPasswordPage: null },
    needs: ["The host name of its IMAP server"],
  } as unknown as Destination;
}

/** A host that answers from memory and records the calls (never a password in them). */
export class FakeHost implements Host {
  calls: string[] = [];
  view: AppView = emptyView();
  failDiscover: unknown = null;
  failNext: unknown = null;
  info: HostInfo = { os: "linux", this_mac_available: false, suggested_root: null, suggested_imap: null };
  chosenFolder: string | null = null;
  /** Passwords as the host received them (the test checks they never come back). */
  received: Record<string, string> = {};
  listener: ((e: JobEvent) => void) | null = null;
  private release: (() => void) | null = null;
  hold = false;

  private fail() {
    const f = this.failNext;
    this.failNext = null;
    if (f) throw f;
  }
  async hostInfo() {
    return this.info;
  }
  async appView() {
    this.calls.push("app_view");
    return this.view;
  }
  async discover(source: Source) {
    this.calls.push(`discover ${source.kind} ${source.root}`);
    if (this.hold) await new Promise<void>((r) => (this.release = r));
    if (this.failDiscover) throw this.failDiscover;
    this.view = discoveredView(source);
    return this.view;
  }
  finish() {
    this.release?.();
  }
  async chooseServerFolder() {
    this.calls.push("choose_server_folder");
    return this.chosenFolder;
  }
  async startOver() {
    this.calls.push("start_over");
    this.view = emptyView();
    return this.view;
  }
  async recordDecision(code: string, subject: string, decision: string) {
    this.calls.push(`decide ${code} ${subject} ${decision}`);
    const decisions: Decision[] = [...this.view.decisions.filter((d) => !(d.code === code && d.subject === subject)), { code, subject, decision, decided_at: 1_764_400_100 }];
    const open = this.view.inventory!.inventory.warnings.filter((w) => !decisions.some((d) => d.code === w.code && d.subject === (w.subject ?? ""))).length;
    const ph = this.view.status.phases.map((p) => (p.phase === "discover" ? { ...p, state: open === 0 ? ("done" as const) : ("needs_attention" as const) } : p));
    this.view = { ...this.view, decisions, status: { ...this.view.status, phases: ph } };
    return this.view;
  }
  async destinationPresets() {
    return [{ ...generic("imap.gmail.com", 993), preset: "googleWorkspace", name: "Google Workspace" } as Destination, generic("", 993)];
  }
  async probeCertificate(host: string, port: number, security: Security) {
    this.calls.push(`probe ${host}:${port} ${security}`);
    this.fail();
    return { sha256: "ab".repeat(32), subject: `CN=${host}`, issuer: `CN=${host}`, not_before: "2026-01-01T00:00:00Z", not_after: "2027-01-01T00:00:00Z", dns_names: [host], reason: "self-signed" };
  }
  async chooseDestination(choice: DestinationChoice) {
    this.calls.push(`destination ${JSON.stringify(choice)}`);
    this.fail();
    const phasesNow = this.view.status.phases.map((p) => (p.phase === "credentials" || p.phase === "initial_sync" ? { ...p, blockers: [] } : p));
    this.view = { ...this.view, destination: generic(choice.imap_host ?? "", choice.imap_port ?? 993), destination_pin: choice.pinned_sha256, status: { ...this.view.status, phases: phasesNow } };
    return this.view;
  }
  async changeAccount(sourceAddress: string, change: AccountChange) {
    this.calls.push(`change ${sourceAddress} ${JSON.stringify(change)}`);
    this.view = {
      ...this.view,
      plan: this.view.plan.map((a) =>
        a.source_address !== sourceAddress ? a : change.change === "included" ? { ...a, included: change.value } : change.change === "dest_address" ? { ...a, dest_address: change.value } : { ...a, method: change.value },
      ),
    };
    return this.view;
  }
  async setPassword(sourceAddress: string, password: string) {
    this.calls.push(`password ${sourceAddress}`);
    this.vaultGate();
    this.received[sourceAddress] = password;
    return this.view;
  }
  async checkLogins(): Promise<CheckReport> {
    this.calls.push("check_logins");
    this.vaultGate();
    this.view = {
      ...this.view,
      login_checks: this.view.plan.map((a) => ({
        account: a.source_address,
        side: "destination" as const,
        status: this.received[a.source_address] ? (this.received[a.source_address] === "wrong" ? "wrong_password" : "ok") : "missing_password",
        advice: this.received[a.source_address] === "wrong" ? "Check the password on the new host." : "",
        checked_at: 1_764_400_200,
      })),
    };
    // accounts read over the old server's IMAP service: their login there too
    const overImap = this.view.plan.filter((a) => a.included && a.method === "imap");
    this.view.login_checks = [
      ...this.view.login_checks,
      ...overImap.map((a) => {
        const pw = this.receivedSource[a.source_address];
        return { account: a.source_address, side: "source" as const, status: pw ? (pw === "wrong" ? "wrong_password" : "ok") : "missing_password", advice: pw === "wrong" ? "Check the password and enter it again, and check that the user name is right for this server." : "", checked_at: 1_764_400_200 };
      }),
    ];
    return { results: [], ok: 0, problems: 0, source_from_store: overImap.length === 0 };
  }
  dnsResult: DnsReport | null = null;
  dnsSaved: DnsSettings = { domains: [], new_mx: { names: [], addresses: [] }, spf_includes: [], old_addresses: [] };
  async dnsCheck() {
    this.calls.push("dns_check");
    this.fail();
    return this.dnsResult!;
  }
  async markTtlLowered() {
    this.calls.push("mark_ttl_lowered");
    this.fail();
    // as Rust: the highest TTL the checks saw before the switch, counted from now
    const before = (this.dnsResult?.domains ?? []).filter((d) => d.ttl?.stage === "before").map((d) => d.ttl!.max_ttl);
    if (before.length === 0) throw { code: "not_ready", message: "Check DNS first: Ferry needs the TTL the resolvers saw before you lowered it, to tell you how long to wait." };
    const now = Math.floor(Date.now() / 1000);
    const old = Math.max(...before);
    this.view = { ...this.view, ttl_wait: { lowered_at: now, old_ttl_secs: old, switch_after: now + old } };
    return this.view;
  }
  async dnsSettings() {
    return this.dnsSaved;
  }
  async setDnsSettings(settings: DnsSettings) {
    this.calls.push(`dns_settings ${JSON.stringify(settings.new_mx.names)}`);
    this.dnsSaved = settings;
    return settings;
  }
  reviewResult: Review | null = null;
  async review() {
    this.calls.push("review");
    this.fail();
    return this.reviewResult!;
  }
  async startSync(kind: JobKind) {
    this.calls.push(`start ${kind}`);
    this.vaultGate();
    this.fail();
    return "job-1";
  }
  async cancelJob() {
    this.calls.push("cancel");
    return true;
  }
  async watchJobs(onEvent: (e: JobEvent) => void) {
    this.listener = onEvent;
    return this.view.job;
  }
  emit(e: JobEvent) {
    this.listener?.(e);
  }
  // Profiles, Quarantine, Decommission (the tests set the results)
  outputFolder: string | null = null;
  exportResult: ExportReport | null = null;
  archiveResult: QuarantineArchive | null = null;
  decommissionResults: DecommissionScreen[] = [];
  async chooseOutputFolder() {
    this.calls.push("choose_output_folder");
    return this.outputFolder;
  }
  async exportProfiles(choice: ProfilesChoice) {
    this.calls.push(`export_profiles ${JSON.stringify(choice)}`);
    this.fail();
    return this.exportResult!;
  }
  async archiveQuarantine(target: QuarantineTarget) {
    this.calls.push(`archive_quarantine ${JSON.stringify(target)}`);
    this.fail();
    return this.archiveResult!;
  }
  async decommission(writeReport: boolean) {
    this.calls.push(`decommission ${writeReport}`);
    this.fail();
    return this.decommissionResults.length > 1 ? this.decommissionResults.shift()! : this.decommissionResults[0];
  }
  async markCloneKept() {
    this.calls.push("mark_clone_kept");
    this.fail();
    return this.view;
  }
  async openRecorded(what: OpenWhat) {
    this.calls.push(`open ${what}`);
    this.fail();
  }
  /** The old server's IMAP service as the host keeps it, and its passwords as received. */
  sourceSaved: SourceImap | null = null;
  receivedSource: Record<string, string> = {};
  async sourceImap() {
    this.calls.push("source_imap");
    return this.sourceSaved;
  }
  async setSourceImap(imap: SourceImap) {
    this.calls.push(`set_source_imap ${JSON.stringify(imap)}`);
    this.fail();
    this.sourceSaved = imap;
    return imap;
  }
  async setSourcePassword(sourceAddress: string, password: string) {
    this.calls.push(`source_password ${sourceAddress}`);
    this.fail();
    this.receivedSource[sourceAddress] = password;
    return this.view;
  }
  /** Microsoft 365 / Google Workspace: the path the file chooser returns, and the secrets as received. */
  oauthFile: string | null = null;
  receivedClientSecret: string | null = null;
  async chooseOAuthFile(what: OAuthFile) {
    this.calls.push(`choose_oauth_file ${what}`);
    return this.oauthFile;
  }
  async chooseOAuthDestination(signIn: OAuthSignIn, clientSecret: string | null) {
    this.calls.push(`oauth_destination ${JSON.stringify(signIn)}`);
    this.receivedClientSecret = clientSecret;
    this.fail();
    const microsoft = signIn.kind !== "google_service_account";
    const destination = { ...generic(microsoft ? "outlook.office365.com" : "imap.gmail.com", 993), preset: microsoft ? "microsoft365" : "googleWorkspace", name: microsoft ? "Microsoft 365" : "Google Workspace" } as Destination;
    const oauth: AppView["oauth"] =
      signIn.kind === "google_service_account"
        ? { kind: "google_service_account", client_email: "ferry@project.iam.gserviceaccount.com", token_url: null }
        : { kind: "microsoft_app", tenant: signIn.tenant.trim(), client_id: signIn.client_id.trim(), credential: signIn.kind === "microsoft_secret" ? "client_secret" : "certificate", token_url: null };
    this.view = { ...this.view, destination, destination_pin: null, oauth };
    return this.view;
  }
  resolveResult: ResolvedMessage | null = null;
  async resolveMessage(account: string, message: MessageRef, way: ResolveWay) {
    this.calls.push(`resolve ${account} ${JSON.stringify(message)} ${way}`);
    this.fail();
    return this.resolveResult;
  }
  // Ferry's encrypted password file (a computer without a system password store): commands that
  // need a password fail with `vault_locked` until `unlockVault` got the right passphrase.
  vaultFile = "/home/admin/.local/share/ferry/passwords.ferry-vault";
  /** The file's passphrase; `null`: there is no file yet. */
  vaultPassphrase: string | null = null;
  vaultUnlocked = true;
  /** Passphrases as the host received them (the test checks they never come back). */
  receivedPassphrases: string[] = [];
  private vaultGate() {
    if (!this.vaultUnlocked) throw { code: "vault_locked", message: "Ferry's password file is locked: enter its passphrase to continue." };
  }
  private vaultNow(): VaultStatus {
    return { file: this.vaultFile, file_exists: this.vaultPassphrase !== null, locked: !this.vaultUnlocked, min_length: 10 };
  }
  async vaultStatus() {
    this.calls.push("vault_status");
    return this.vaultNow();
  }
  async unlockVault(passphrase: string) {
    this.calls.push("unlock_vault");
    this.receivedPassphrases.push(passphrase);
    if (this.vaultPassphrase === null) {
      if (Array.from(passphrase).length < 10) throw { code: "invalid", message: "Choose a passphrase of at least 10 characters." };
      this.vaultPassphrase = passphrase;
    } else if (passphrase !== this.vaultPassphrase) {
      throw { code: "invalid", message: "That passphrase does not open Ferry's password file. Check it (Caps Lock, keyboard layout) and try again." };
    }
    this.vaultUnlocked = true;
    return this.vaultNow();
  }
  // A password file (the tests set the previews by path and the import's result); the import
  // reads the file last previewed, the delete removes the file imported, as in Rust.
  passwordFile: string | null = null;
  previews: Record<string, ImportPreview> = {};
  importResult: PasswordImport | null = null;
  previewed: string | null = null;
  imported: string | null = null;
  deletedFiles: string[] = [];
  async choosePasswordFile() {
    this.calls.push("choose_password_file");
    return this.passwordFile;
  }
  async previewPasswordFile(path: string) {
    this.calls.push(`preview_password_file ${path}`);
    this.previewed = null;
    this.fail();
    const preview = this.previews[path];
    if (!preview) throw { code: "not_found", message: `Ferry cannot read ${path}: there is no such file (was it moved or deleted?).` };
    this.previewed = path;
    return preview;
  }
  async importPasswordFile() {
    this.calls.push("import_password_file");
    this.vaultGate();
    this.fail();
    if (!this.previewed) throw { code: "not_ready", message: "Choose a password file and look at its preview first." };
    this.imported = this.previewed;
    return this.importResult!;
  }
  async deletePasswordFile() {
    this.calls.push("delete_password_file");
    this.fail();
    if (!this.imported) throw { code: "not_ready", message: "Ferry deletes only a password file it has just imported, and there is none." };
    this.deletedFiles.push(this.imported);
    this.imported = null;
  }
}
