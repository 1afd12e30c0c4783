// A small inventory in the shape discovery returns, for screen tests.
import type { Account } from "../src/bindings/Account";
import type { AppView } from "../src/bindings/AppView";
import type { HostInfo } from "../src/bindings/HostInfo";
import type { Inventory } from "../src/bindings/Inventory";
import type { PhaseStatus } from "../src/bindings/PhaseStatus";
import type { Source } from "../src/bindings/Source";
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

export function phases(discover: PhaseStatus["state"], note: string | null = null): PhaseStatus[] {
  return IDS.map((phase, i) => ({
    phase,
    number: i + 1,
    title: TITLES[i],
    summary: `${TITLES[i]} summary`,
    state: i === 0 ? discover : "not_started",
    built: i === 0,
    note: i === 0 ? note : "Not built yet in this version of Ferry",
  }));
}

export function emptyView(): AppView {
  return { migration: null, phases: phases("not_started"), project_file: "/data/migration.json" };
}

export function discoveredView(source: Source): AppView {
  return {
    migration: { format: 1, source, inventory: inventory(), discovered_at: 1_764_400_000 },
    phases: phases("needs_attention", "2 warnings to read"),
    project_file: "/data/migration.json",
  };
}

/** A host that answers from memory and records the calls. */
export class FakeHost implements Host {
  calls: string[] = [];
  view: AppView = emptyView();
  failDiscover: unknown = null;
  info: HostInfo = { os: "linux", this_mac_available: false, suggested_root: null };
  private release: (() => void) | null = null;
  hold = false;

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
  chosenFolder: string | null = null;
  async chooseServerFolder() {
    this.calls.push("choose_server_folder");
    return this.chosenFolder;
  }
  async startOver() {
    this.calls.push("start_over");
    this.view = emptyView();
    return this.view;
  }
}
