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
import { discoverScreen } from "../screens/discover";
import { placeholderScreen } from "../screens/placeholder";
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
}

/** The sidebar's phases, with the running one shown as running while a command is in flight. */
export function phasesFor(state: WizardState): PhaseStatus[] {
  return state.view.phases.map((p) =>
    p.phase === "discover" && state.running ? { ...p, state: "running", note: null } : p,
  );
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
    const screen =
      current.phase === "discover"
        ? discoverScreen(
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
            },
            {
              setSourceKind: (kind) => this.set({ sourceKind: kind }),
              setRoot: (root) => {
                this.state.root = root;
              },
              discover: () => void this.runDiscovery({ kind: this.state.sourceKind, root: this.state.root }),
              rerun: () => {
                const m = this.state.view.migration;
                if (m) void this.runDiscovery(m.source);
              },
              chooseAnother: () => this.set({ choosing: true, error: null }),
              cancelChoose: () => this.set({ choosing: false, error: null }),
              startOver: () => void this.startOver(),
              sortBy: (key) => this.set({ sort: nextOrder(this.state.sort, key) }),
              toggleFolders: (id) => {
                const expanded = new Set(this.state.expanded);
                if (!expanded.delete(id)) expanded.add(id);
                this.set({ expanded });
              },
            },
          )
        : placeholderScreen(current);
    clear(this.root);
    this.root.append(
      h("div", { class: "layout" }, sidebar(phases, s.selected, (phase) => this.set({ selected: phase })), h("main", { class: "content" }, screen)),
    );
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
