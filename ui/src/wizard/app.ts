// The wizard: state, the sidebar of phases, and the selected phase's screen. Rendering is a pure
// function of the state. Typing only records the value (no re-render), and job progress, which
// can arrive many times a second, re-renders at most once per animation frame; the focused field
// and its caret are kept across a re-render, so live progress never steals what the admin types.
import type { AppView } from "../bindings/AppView";
import type { CertificateInfo } from "../bindings/CertificateInfo";
import type { CommandError } from "../bindings/CommandError";
import type { Destination } from "../bindings/Destination";
import type { HostInfo } from "../bindings/HostInfo";
import type { JobEvent } from "../bindings/JobEvent";
import type { JobKind } from "../bindings/JobKind";
import type { JobView } from "../bindings/JobView";
import type { Phase } from "../bindings/Phase";
import type { DnsReport } from "../bindings/DnsReport";
import type { DnsSettings } from "../bindings/DnsSettings";
import type { Review } from "../bindings/Review";
import type { RunOutcome } from "../bindings/RunOutcome";
import type { PhaseLine } from "../bindings/PhaseLine";
import type { SourceKind } from "../bindings/SourceKind";
import type { Host } from "../ipc/types";
import { asCommandError } from "../ipc/types";
import { clear, h } from "../lib/dom";
import { type SortOrder, nextOrder } from "../lib/sort";
import { CREDENTIALS_LEAD, credentialsBody } from "../screens/credentials";
import { type ImportedAccounts, PasswordImportSection } from "../screens/credentials_import";
import { DESTINATION_LEAD, type DestinationForm, destinationBody } from "../screens/destination";
import { DISCOVER_LEAD, type DiscoverConfirm, discoverBody } from "../screens/discover";
import { DECOMMISSION_LEAD, DecommissionController } from "../screens/decommission";
import { placeholderBody } from "../screens/placeholder";
import { PROFILES_LEAD, ProfilesScreen } from "../screens/profiles";
import { QUARANTINE_LEAD, QuarantineScreen } from "../screens/quarantine";
import { ResolveController } from "../screens/resolve";
import { CUTOVER_LEAD, cutoverBody } from "../screens/cutover";
import { DNS_LEAD, dnsBody } from "../screens/dns";
import { REVIEW_LEAD, reviewBody } from "../screens/review";
import { SYNC_LEAD, syncBody } from "../screens/sync";
import { SourceImapScreen } from "../screens/source_imap";
import { OAUTH_CREDENTIALS_LEAD, OAuthScreen, isOAuthPreset, signsInAsApp } from "../screens/oauth";
import { frame } from "./frame";
import { sidebar } from "./sidebar";
import { PassphraseDialog, withPassphrase } from "./passphrase";

/** How many throughput samples the chart keeps. */
const RATE_SAMPLES = 120;

export interface WizardState {
  host: HostInfo;
  view: AppView;
  selected: Phase;
  /** A command in flight (discovery, a certificate check, a login check). */
  running: boolean;
  error: CommandError | null;
  choosing: boolean;
  sourceKind: SourceKind;
  root: string;
  sort: SortOrder;
  expanded: Set<string>;
  confirm: DiscoverConfirm | null;
  presets: Destination[];
  destForm: DestinationForm;
  editingDestination: boolean;
  certificate: CertificateInfo | null;
  trusted: boolean;
  typed: Record<string, string>;
  stored: Set<string>;
  shown: Set<string>;
  job: JobView | null;
  rates: number[];
  confirmSync: boolean;
  probing: boolean;
  review: Review | null;
  reviewFilter: string;
  dns: DnsReport | null;
  dnsSettings: DnsSettings | null;
  /** The new host's MX names as typed, saved when the check runs. */
  typedMx: string | null;
  /** How the last job this window saw ended (Resume after a pause, Run again after an end). */
  lastOutcome: RunOutcome | null;
}

/** The sidebar's phases, with Discover shown as running while a discovery is in flight. */
export function phasesFor(state: WizardState): PhaseLine[] {
  return state.view.status.phases.map((p) =>
    p.phase === "discover" && state.running && state.selected === "discover" ? { ...p, state: "running", note: null } : p,
  );
}

/** What keeps the admin from continuing past `phase`; null when nothing does. */
export function blockedBy(phase: PhaseLine, s: WizardState): string | null {
  if (s.running) return "Wait for the running step to finish.";
  if (phase.phase === "discover" && !s.view.inventory) return "Discover the old server first.";
  if (phase.phase === "destination" && !s.view.destination) return "Choose the new mail host first.";
  return null;
}

function splitImap(suggested: string | null): { host: string; port: string } {
  if (!suggested) return { host: "", port: "993" };
  const at = suggested.lastIndexOf(":");
  return at > 0 ? { host: suggested.slice(0, at), port: suggested.slice(at + 1) } : { host: suggested, port: "993" };
}

export class Wizard {
  state: WizardState;
  private frameRequested = false;
  private ttlTimer: ReturnType<typeof setTimeout> | null = null;
  /** Profiles, Quarantine and Decommission keep their own state (made on first show). */
  private resolving: ResolveController | null = null;
  private later: { profiles: ProfilesScreen; quarantine: QuarantineScreen; decommission: DecommissionController } | null = null;
  /** The old server's IMAP service (on Destination and Credentials), made on first show. */
  private sourceImapScreen: SourceImapScreen | null = null;
  /** Microsoft 365 / Google Workspace sign-in (on Destination and Credentials), made on first show. */
  private oauthScreen: OAuthScreen | null = null;

  constructor(
    private readonly root: HTMLElement,
    private readonly host: Host,
    hostInfo: HostInfo,
    view: AppView,
  ) {
    const source = view.source;
    const imap = splitImap(hostInfo.suggested_imap);
    this.state = {
      host: hostInfo,
      view,
      selected: view.status.next ?? "discover",
      running: false,
      error: null,
      choosing: false,
      sourceKind: source?.kind ?? (hostInfo.this_mac_available && !hostInfo.suggested_root ? "this_mac" : "copy"),
      root: source?.kind === "copy" ? source.root : (hostInfo.suggested_root ?? ""),
      sort: { key: "bytes", direction: "descending" },
      expanded: new Set(),
      confirm: null,
      presets: [],
      destForm: { preset: hostInfo.suggested_imap ? "genericImap" : null, host: imap.host, port: imap.port, security: "tls" },
      editingDestination: false,
      certificate: null,
      trusted: false,
      typed: {},
      stored: new Set(),
      shown: new Set(),
      job: view.job,
      rates: [],
      confirmSync: false,
      probing: false,
      review: null,
      reviewFilter: "",
      dns: null,
      dnsSettings: null,
      typedMx: null,
      lastOutcome: null,
    };
  }

  /** Loads what the host remembers and shows it; subscribes to job progress. */
  static async start(root: HTMLElement, host: Host): Promise<Wizard> {
    // A command waiting for the password file's passphrase asks for it in a dialog, then runs again.
    host = withPassphrase(host, new PassphraseDialog(host, root.ownerDocument.body));
    try {
      const [info, view, presets] = await Promise.all([host.hostInfo(), host.appView(), host.destinationPresets()]);
      const wizard = new Wizard(root, host, info, view);
      wizard.state.presets = presets;
      const job = await host.watchJobs((event) => wizard.onJobEvent(event));
      if (job) wizard.state.job = job;
      wizard.render();
      return wizard;
    } catch (err) {
      const e = asCommandError(err);
      clear(root);
      root.append(
        h("div", { class: "card error boot-error", role: "alert", "data-testid": "boot-error" }, h("h2", {}, "Ferry could not open the current migration"), h("p", {}, e.message)),
      );
      throw err;
    }
  }

  private set(patch: Partial<WizardState>): void {
    this.state = { ...this.state, ...patch };
    this.render();
  }

  /** Re-renders on the next animation frame (many progress events, one render). */
  private renderSoon(): void {
    if (this.frameRequested) return;
    this.frameRequested = true;
    const run = () => {
      this.frameRequested = false;
      this.render();
    };
    if (typeof requestAnimationFrame === "function") requestAnimationFrame(run);
    else setTimeout(run, 16);
  }

  /** A job event: folded into the job's view; the project's status is read again at the end. */
  onJobEvent(event: JobEvent): void {
    const s = this.state;
    let job = s.job && s.job.id === event.job_id ? { ...s.job } : null;
    const e = event.event;
    if (e.kind === "started") {
      // a job may start another inside it (the cut-over watch runs the delta sync under its own
      // id): the job keeps the kind it was started as
      const kind = job ? job.kind : e.job;
      job = { id: event.job_id, kind, running: true, accounts: e.accounts, summary: job?.summary ?? null };
      this.state = { ...s, job, rates: [] };
      // the project has logged the run by now: the sidebar shows the step running (also for a
      // job the screen did not start, such as the menu-bar's final sync)
      void this.refresh();
    } else if (job) {
      if (e.kind === "account") {
        const others = job.accounts.filter((a) => a.account !== e.progress.account);
        const index = job.accounts.findIndex((a) => a.account === e.progress.account);
        const accounts = index >= 0 ? job.accounts.map((a) => (a.account === e.progress.account ? e.progress : a)) : [...others, e.progress];
        job.accounts = accounts;
        const rate = accounts.reduce((n, a) => n + (a.stage === "copying" ? a.bytes_per_second : 0), 0);
        this.state = { ...s, job, rates: [...s.rates, rate].slice(-RATE_SAMPLES) };
      } else if (e.kind === "note") {
        job.summary = e.text;
        this.state = { ...s, job };
      } else {
        job.running = false;
        job.summary = e.summary;
        this.state = { ...s, job, lastOutcome: e.outcome };
        if (job.kind === "retry" && this.state.review) void this.runReview();
        else void this.refresh();
      }
    }
    this.renderSoon();
  }

  private async refresh(): Promise<void> {
    try {
      const view = await this.host.appView();
      this.set({ view });
    } catch (err) {
      this.set({ error: asCommandError(err) });
    }
  }

  /** Runs a command that returns the new view, with the running flag and error handling. */
  private async act(work: () => Promise<AppView | void>, patch: Partial<WizardState> = {}): Promise<boolean> {
    if (this.state.running) return false;
    this.set({ running: true, error: null });
    try {
      const view = await work();
      this.set({ ...(view ? { view } : {}), ...patch, running: false });
      return true;
    } catch (err) {
      this.set({ running: false, error: asCommandError(err) });
      return false;
    }
  }

  private go(phase: Phase): void {
    this.set({ selected: phase, error: null, confirm: null, confirmSync: false });
  }

  render(): void {
    const s = this.state;
    const phases = phasesFor(s);
    const current = phases.find((p) => p.phase === s.selected) ?? phases[0];
    const view = s.view;
    const now = Math.floor(Date.now() / 1000);
    let lead = current.summary;
    let body: (HTMLElement | null)[];
    switch (current.phase) {
      case "discover":
        lead = DISCOVER_LEAD;
        body = discoverBody(
          {
            host: s.host,
            source: view.source,
            snapshot: view.inventory,
            running: s.running,
            error: s.error,
            choosing: s.choosing,
            sourceKind: s.sourceKind,
            root: s.root,
            sort: s.sort,
            expanded: s.expanded,
            projectFile: view.project_file,
            confirm: s.confirm,
            decisions: view.decisions,
          },
          {
            setSourceKind: (kind) => this.set({ sourceKind: kind }),
            setRoot: (root) => {
              this.state.root = root;
            },
            discover: () => {
              // Another server's discovery replaces the migration: ask first.
              if (this.state.view.inventory) this.set({ confirm: "replace" });
              else void this.runDiscovery();
            },
            rerun: () => {
              const src = this.state.view.source;
              if (src) void this.act(() => this.host.discover(src), { expanded: new Set() });
            },
            chooseAnother: () => this.set({ choosing: true, error: null }),
            cancelChoose: () => this.set({ choosing: false, error: null, confirm: null }),
            startOver: () => this.set({ confirm: "start_over" }),
            chooseFolder: () => void this.chooseFolder(),
            confirmed: () => {
              const kind = this.state.confirm;
              this.set({ confirm: null });
              if (kind === "start_over") void this.act(() => this.host.startOver(), { choosing: false, root: this.state.host.suggested_root ?? "", expanded: new Set(), job: null });
              else if (kind === "replace") void this.runDiscovery();
            },
            cancelConfirm: () => this.set({ confirm: null }),
            decide: (code, subject, decision) => void this.act(() => this.host.recordDecision(code, subject, decision)),
            sortBy: (key) => this.set({ sort: nextOrder(this.state.sort, key) }),
            toggleFolders: (id) => {
              const expanded = new Set(this.state.expanded);
              if (!expanded.delete(id)) expanded.add(id);
              this.set({ expanded });
            },
          },
        );
        break;
      case "destination":
        lead = DESTINATION_LEAD;
        body = destinationBody(
          {
            discovered: view.inventory !== null,
            presets: s.presets,
            destination: view.destination,
            pin: view.destination_pin,
            plan: view.plan,
            form: s.destForm,
            editing: s.editingDestination,
            certificate: s.certificate,
            trusted: s.trusted,
            busy: s.running,
            probing: s.probing,
            error: s.error,
            sourceImap: this.sourceImap().destinationSection(view),
            oauthForm: this.oauth().destinationForm(s.destForm.preset, view),
            oauthSignIn: this.oauth().signInLine(view),
          },
          {
            pickPreset: (preset) => this.set({ destForm: { ...this.state.destForm, preset }, certificate: null, trusted: false }),
            setField: (field, value) => {
              this.state.destForm = { ...this.state.destForm, [field]: value };
              // the certificate was for the old host/port
              if (this.state.certificate) this.set({ certificate: null, trusted: false });
            },
            setSecurity: (security) => this.set({ destForm: { ...this.state.destForm, security, port: security === "tls" ? "993" : "143" }, certificate: null, trusted: false }),
            checkCertificate: () => void this.checkCertificate(),
            trust: (yes) => this.set({ trusted: yes }),
            save: () => void this.saveDestination(),
            edit: () => this.set({ editingDestination: true }),
            change: (account, change) => void this.act(() => this.host.changeAccount(account, change)),
          },
        );
        break;
      case "credentials":
        lead = signsInAsApp(view) ? OAUTH_CREDENTIALS_LEAD : CREDENTIALS_LEAD;
        body = credentialsBody(
          { destination: view.destination, plan: view.plan, checks: view.login_checks, typed: s.typed, stored: s.stored, shown: s.shown, busy: s.running, error: s.error, sourceImap: this.sourceImap().credentialsSection(view), oauth: this.oauth().credentialsBody(view, s.running, s.error, () => this.checkLogins(), () => this.editApp()), passwordImport: signsInAsApp(view) ? null : this.passwordImport().section(s.running) },
          {
            type: (account, value) => {
              // no re-render while typing: the field keeps its caret (and WebDriver its element)
              this.state.typed = { ...this.state.typed, [account]: value };
            },
            toggleShown: (account) => {
              const shown = new Set(this.state.shown);
              if (!shown.delete(account)) shown.add(account);
              this.set({ shown });
            },
            storeAll: () => void this.storePasswords(),
            check: () => this.checkLogins(),
          },
        );
        break;
      case "initial_sync":
      case "final_sync": {
        const kind: JobKind = current.phase;
        lead = SYNC_LEAD[current.phase];
        body = syncBody(
          {
            kind,
            ready: current.blockers.length === 0 && !(s.job?.running ?? false),
            blockers: current.blockers,
            plan: view.plan,
            job: s.job,
            rates: s.rates,
            confirming: s.confirmSync,
            error: s.error,
            note: current.note,
            paused: s.lastOutcome === "cancelled",
            done: current.state === "done",
          },
          {
            start: () => {
              if (kind === "final_sync") this.set({ confirmSync: true });
              else void this.startSync(kind);
            },
            confirmed: () => {
              this.set({ confirmSync: false });
              void this.startSync(kind);
            },
            cancelConfirm: () => this.set({ confirmSync: false }),
            pause: () => void this.host.cancelJob(),
          },
        );
        break;
      }
      case "review":
        lead = REVIEW_LEAD;
        body = reviewBody(
          { review: s.review, plan: view.plan, filter: s.reviewFilter, busy: s.running, job: s.job, error: s.error },
          {
            check: () => void this.runReview(),
            setFilter: (text) => this.set({ reviewFilter: text }),
            retry: () => void this.startSync("retry"),
            resolveButtons: (f) => this.resolver().buttons(f),
            resolvePanel: () => this.resolver().panel(),
          },
        );
        break;
      case "dns_prep":
        lead = DNS_LEAD;
        body = dnsBody(
          { report: s.dns, needsMx: view.destination?.preset === "genericImap", settings: s.dnsSettings, ttlWait: view.ttl_wait, now, busy: s.running, error: s.error },
          {
            check: () => void this.runDnsCheck(),
            typeMx: (names) => {
              this.state.typedMx = names;
            },
            ttlLowered: () => void this.act(() => this.host.markTtlLowered()),
          },
        );
        break;
      case "cutover":
        lead = CUTOVER_LEAD;
        body = cutoverBody(
          { blockers: current.blockers, done: current.state === "done", job: s.job, ttlWait: view.ttl_wait, now, error: s.error },
          {
            switched: () => void this.startSync("dns_watch"),
            stop: () => void this.host.cancelJob(),
          },
        );
        break;
      case "profiles":
      case "quarantine":
      case "decommission": {
        const render = () => this.renderSoon();
        this.later = this.later ?? { profiles: new ProfilesScreen(this.host, render), quarantine: new QuarantineScreen(this.host, render), decommission: new DecommissionController(this.host, render, () => void this.refresh()) };
        lead = { profiles: PROFILES_LEAD, quarantine: QUARANTINE_LEAD, decommission: DECOMMISSION_LEAD }[current.phase];
        body = current.phase === "decommission" ? this.later.decommission.body(current.blockers) : this.later[current.phase].body(view, current.blockers);
        break;
      }
      default:
        body = placeholderBody(current);
    }
    const screen = frame({
      phase: current,
      phases,
      lead,
      headline: view.status.headline,
      body,
      blocked: blockedBy(current, s),
      onGo: (phase) => this.go(phase),
    });
    // DNS prep and Cut-over count the old TTL down: re-rendered while they show it
    this.tickTtlCountdown(current.phase === "dns_prep" || current.phase === "cutover" ? (view.ttl_wait?.switch_after ?? null) : null);
    const focus = rememberFocus(this.root);
    clear(this.root);
    this.root.append(h("div", { class: "layout" }, sidebar(phases, s.selected, (phase) => this.go(phase)), h("main", { class: "content" }, screen)));
    focus();
  }

  private async runDiscovery(): Promise<void> {
    const source = { kind: this.state.sourceKind, root: this.state.root };
    await this.act(() => this.host.discover(source), { choosing: false, expanded: new Set() });
  }

  private async chooseFolder(): Promise<void> {
    try {
      const folder = await this.host.chooseServerFolder();
      if (folder !== null) this.set({ root: folder, sourceKind: "copy", error: null });
    } catch (err) {
      this.set({ error: asCommandError(err) });
    }
  }

  private async checkCertificate(): Promise<void> {
    const f = this.state.destForm;
    if (this.state.running) return;
    const invalid = formProblem(f);
    if (invalid) return this.set({ error: { code: "invalid", message: invalid } });
    this.set({ running: true, probing: true, error: null, certificate: null, trusted: false });
    try {
      const certificate = await this.host.probeCertificate(f.host.trim(), Number(f.port), f.security);
      this.set({ running: false, probing: false, certificate });
    } catch (err) {
      this.set({ running: false, probing: false, error: asCommandError(err) });
    }
  }

  private async saveDestination(): Promise<void> {
    const f = this.state.destForm;
    if (!f.preset) return;
    const oauthPreset = f.preset;
    if (isOAuthPreset(oauthPreset)) {
      await this.act(() => this.oauth().save(oauthPreset), { editingDestination: false });
      return;
    }
    const generic = f.preset === "genericImap";
    const invalid = generic ? formProblem(f) : null;
    if (invalid) return this.set({ error: { code: "invalid", message: invalid } });
    const cert = this.state.certificate;
    await this.act(
      () =>
        this.host.chooseDestination({
          preset: f.preset!,
          imap_host: generic ? f.host.trim() : null,
          imap_port: generic ? Number(f.port) : null,
          imap_security: generic ? f.security : null,
          smtp_host: null,
          pinned_sha256: generic && cert && cert.reason !== "" && this.state.trusted ? cert.sha256 : null,
        }),
      { editingDestination: false },
    );
  }

  private async storePasswords(): Promise<void> {
    const typed = Object.entries(this.state.typed).filter(([, v]) => v !== "");
    if (typed.length === 0) return this.set({ error: { code: "invalid", message: "Type a password in at least one row first." } });
    await this.act(async () => {
      let view: AppView | undefined;
      const stored = new Set(this.state.stored);
      for (const [account, password] of typed) {
        view = await this.host.setPassword(account, password);
        stored.add(account);
        // forget the typed value as soon as it is stored
        const rest = { ...this.state.typed };
        delete rest[account];
        this.state.typed = rest;
        this.state.stored = stored;
      }
      return view;
    });
  }

  /**
   * While a screen counts down the old TTL, one re-render every 30 s (or when it ends) moves the
   * countdown on; each render replaces the timer, and another screen's render clears it. Nothing
   * is asked of Rust: the countdown is the clock against the view's `switch_after`.
   */
  private tickTtlCountdown(switchAfter: number | null): void {
    if (this.ttlTimer !== null) clearTimeout(this.ttlTimer);
    this.ttlTimer = null;
    const left = switchAfter === null ? 0 : switchAfter * 1000 - Date.now();
    if (left <= 0) return;
    this.ttlTimer = setTimeout(() => {
      this.ttlTimer = null;
      this.renderSoon();
    }, Math.min(30_000, left + 100));
  }

  private async runDnsCheck(): Promise<void> {
    if (this.state.running) return;
    this.set({ running: true, error: null });
    try {
      const typed = this.state.typedMx;
      if (typed !== null) {
        const current = this.state.dnsSettings ?? (await this.host.dnsSettings());
        const names = typed.split(/[\s,]+/).map((x) => x.trim()).filter((x) => x !== "");
        this.state.dnsSettings = await this.host.setDnsSettings({ ...current, new_mx: { ...current.new_mx, names } });
        this.state.typedMx = null;
      }
      const dns = await this.host.dnsCheck();
      const view = await this.host.appView();
      this.set({ running: false, dns, view });
    } catch (err) {
      this.set({ running: false, error: asCommandError(err) });
    }
  }

  /** From Credentials back to the app's details on Destination (a wrong secret, another app). */
  private editApp(): void {
    const preset = this.state.view.destination?.preset ?? null;
    this.set({ selected: "destination", editingDestination: true, error: null, destForm: { ...this.state.destForm, preset } });
  }

  private checkLogins(): void {
    void this.act(async () => {
      await this.host.checkLogins();
      this.passwordImportSection?.loginsChecked();
      return this.host.appView();
    });
  }

  private oauth(): OAuthScreen {
    this.oauthScreen = this.oauthScreen ?? new OAuthScreen(this.host, () => this.renderSoon());
    return this.oauthScreen;
  }

  private sourceImap(): SourceImapScreen {
    this.sourceImapScreen = this.sourceImapScreen ?? new SourceImapScreen(this.host, () => this.render(), (view) => this.set({ view }));
    return this.sourceImapScreen;
  }

  /** Credentials' import of a password file the admin already has, made on first show. */
  private passwordImportSection: PasswordImportSection | null = null;

  private passwordImport(): PasswordImportSection {
    this.passwordImportSection = this.passwordImportSection ?? new PasswordImportSection(this.host, () => this.render(), (accounts) => this.passwordsImported(accounts));
    return this.passwordImportSection;
  }

  /** The import stored these accounts' passwords: shown as stored in both tables (a value typed for one is dropped: the file's is newer). */
  private passwordsImported(accounts: ImportedAccounts): void {
    const stored = new Set(this.state.stored);
    const typed = { ...this.state.typed };
    for (const account of accounts.destination) {
      stored.add(account);
      delete typed[account];
    }
    this.state.stored = stored;
    this.state.typed = typed;
    for (const account of accounts.source) this.sourceImap().stored.add(account);
  }

  private resolver(): ResolveController {
    this.resolving = this.resolving ?? new ResolveController(this.host, () => this.renderSoon(), () => void this.runReview());
    return this.resolving;
  }

  private async runReview(): Promise<void> {
    if (this.state.running) return;
    this.set({ running: true, error: null });
    try {
      const review = await this.host.review();
      const view = await this.host.appView();
      this.set({ running: false, review, view });
    } catch (err) {
      this.set({ running: false, error: asCommandError(err) });
    }
  }

  private async startSync(kind: JobKind): Promise<void> {
    this.set({ error: null });
    try {
      const id = await this.host.startSync(kind);
      // events for this id fill it in (a "started" event may already have come)
      if (this.state.job?.id !== id) this.set({ job: { id, kind, running: true, accounts: [], summary: null }, rates: [] });
      // the sidebar shows the step running
      void this.refresh();
    } catch (err) {
      this.set({ error: asCommandError(err) });
    }
  }
}

/** What is wrong with the typed host and port, in words; null when they can be used. */
function formProblem(f: DestinationForm): string | null {
  if (f.host.trim() === "") return "Enter the host name of the new IMAP server (for example imap.example.com).";
  const port = Number(f.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `The port "${f.port}" is not a number from 1 to 65535 (IMAP over TLS uses 993).`;
  return null;
}

/** Keeps the focused field (by its test id and row) and caret across a re-render. */
function rememberFocus(root: HTMLElement): () => void {
  const active = document.activeElement as HTMLInputElement | null;
  if (!active || !root.contains(active) || !active.dataset.testid) return () => {};
  const id = active.dataset.testid;
  const row = active.closest("[data-testid]:not(input)")?.closest("tr")?.getAttribute("data-testid") ?? null;
  const start = active.selectionStart;
  const end = active.selectionEnd;
  return () => {
    const scope = row ? root.querySelector(`tr[data-testid="${row}"]`) : root;
    const again = scope?.querySelector<HTMLInputElement>(`[data-testid="${id}"]`);
    if (!again) return;
    again.focus();
    if (start !== null && end !== null && typeof again.setSelectionRange === "function") {
      try {
        again.setSelectionRange(start, end);
      } catch {
        // not a text field
      }
    }
  };
}
