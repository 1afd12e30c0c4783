// The wizard: state, the sidebar of phases, and the selected phase's screen. Rendering is a pure
// function of the state; every change re-renders (the screens are small), except typing in the
// path field, which only records the value so the caret stays put.
import type { AppView } from "../bindings/AppView";
import type { CommandError } from "../bindings/CommandError";
import type { HostInfo } from "../bindings/HostInfo";
import type { Phase } from "../bindings/Phase";
import type { PhaseStatus } from "../bindings/PhaseStatus";
import type { SourceKind } from "../bindings/SourceKind";
import type { Host } from "../ipc/types";
import { asCommandError } from "../ipc/types";
import { clear, h } from "../lib/dom";
import { type SortOrder, nextOrder } from "../lib/sort";
import { DISCOVER_LEAD, type DiscoverConfirm, discoverBody } from "../screens/discover";
import { placeholderBody } from "../screens/placeholder";
import { frame } from "./frame";
import { sidebar } from "./sidebar";

export interface WizardState {
  host: HostInfo;
  view: AppView;
  selected: Phase;
  running: boolean;
  error: CommandError | null;
  choosing: boolean;
  sourceKind: SourceKind;
  root: string;
  sort: SortOrder;
  expanded: Set<string>;
  confirm: DiscoverConfirm | null;
}

/** The sidebar's phases, with the running one shown as running while a command is in flight. */
export function phasesFor(state: WizardState): PhaseStatus[] {
  return state.view.phases.map((p) =>
    p.phase === "discover" && state.running ? { ...p, state: "running", note: null } : p,
  );
}

/** What keeps the admin from continuing past `phase`; null when nothing does. */
export function blockedBy(phase: PhaseStatus, s: WizardState): string | null {
  if (s.running) return "Wait for the running step to finish.";
  if (phase.phase === "discover" && !s.view.migration?.inventory) return "Discover the old server first.";
  if (!phase.built) return "This step is not built yet.";
  return null;
}

export class Wizard {
  state: WizardState;

  constructor(
    private readonly root: HTMLElement,
    private readonly host: Host,
    hostInfo: HostInfo,
    view: AppView,
  ) {
    const source = view.migration?.source;
    this.state = {
      host: hostInfo,
      view,
      selected: "discover",
      running: false,
      error: null,
      choosing: false,
      sourceKind: source?.kind ?? (hostInfo.this_mac_available && !hostInfo.suggested_root ? "this_mac" : "copy"),
      root: source?.kind === "copy" ? source.root : (hostInfo.suggested_root ?? ""),
      sort: { key: "bytes", direction: "descending" },
      expanded: new Set(),
      confirm: null,
    };
  }

  /** Loads what the host remembers and shows it. */
  static async start(root: HTMLElement, host: Host): Promise<Wizard> {
    try {
      const [info, view] = await Promise.all([host.hostInfo(), host.appView()]);
      const wizard = new Wizard(root, host, info, view);
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

  private async runDiscovery(source: { kind: SourceKind; root: string }): Promise<void> {
    if (this.state.running) return;
    this.set({ running: true, error: null });
    try {
      const view = await this.host.discover(source);
      this.set({ view, running: false, choosing: false, expanded: new Set() });
    } catch (err) {
      this.set({ running: false, error: asCommandError(err) });
    }
  }

  render(): void {
    const s = this.state;
    const phases = phasesFor(s);
    const current = phases.find((p) => p.phase === s.selected) ?? phases[0];
    const body =
      current.phase === "discover"
        ? discoverBody(
            {
              host: s.host,
              migration: s.view.migration,
              running: s.running,
              error: s.error,
              choosing: s.choosing,
              sourceKind: s.sourceKind,
              root: s.root,
              sort: s.sort,
              expanded: s.expanded,
              projectFile: s.view.project_file,
              confirm: s.confirm,
            },
            {
              setSourceKind: (kind) => this.set({ sourceKind: kind }),
              setRoot: (root) => {
                this.state.root = root;
              },
              discover: () => {
                // Another server's discovery replaces the migration: ask first.
                if (this.state.view.migration?.inventory) this.set({ confirm: "replace" });
                else void this.runDiscovery({ kind: this.state.sourceKind, root: this.state.root });
              },
              rerun: () => {
                const m = this.state.view.migration;
                if (m) void this.runDiscovery(m.source);
              },
              chooseAnother: () => this.set({ choosing: true, error: null }),
              cancelChoose: () => this.set({ choosing: false, error: null, confirm: null }),
              startOver: () => this.set({ confirm: "start_over" }),
              chooseFolder: () => void this.chooseFolder(),
              confirmed: () => {
                const kind = this.state.confirm;
                this.set({ confirm: null });
                if (kind === "start_over") void this.startOver();
                else if (kind === "replace") void this.runDiscovery({ kind: this.state.sourceKind, root: this.state.root });
              },
              cancelConfirm: () => this.set({ confirm: null }),
              sortBy: (key) => this.set({ sort: nextOrder(this.state.sort, key) }),
              toggleFolders: (id) => {
                const expanded = new Set(this.state.expanded);
                if (!expanded.delete(id)) expanded.add(id);
                this.set({ expanded });
              },
            },
          )
        : placeholderBody(current);
    const screen = frame({
      phase: current,
      phases,
      lead: current.phase === "discover" ? DISCOVER_LEAD : current.summary,
      body,
      blocked: blockedBy(current, s),
      onGo: (phase) => this.set({ selected: phase }),
    });
    clear(this.root);
    this.root.append(
      h("div", { class: "layout" }, sidebar(phases, s.selected, (phase) => this.set({ selected: phase })), h("main", { class: "content" }, screen)),
    );
  }

  private async chooseFolder(): Promise<void> {
    try {
      const folder = await this.host.chooseServerFolder();
      if (folder !== null) this.set({ root: folder, sourceKind: "copy", error: null });
    } catch (err) {
      this.set({ error: asCommandError(err) });
    }
  }

  private async startOver(): Promise<void> {
    try {
      const view = await this.host.startOver();
      this.set({ view, error: null, choosing: false, root: this.state.host.suggested_root ?? "", expanded: new Set() });
    } catch (err) {
      this.set({ error: asCommandError(err) });
    }
  }
}
