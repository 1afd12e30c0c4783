import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AccountProgress } from "../src/bindings/AccountProgress";
import type { DnsReport } from "../src/bindings/DnsReport";
import type { Review } from "../src/bindings/Review";
import { accountName } from "../src/screens/review";
import { Wizard } from "../src/wizard/app";
import { FakeHost } from "./fixtures";

let root: HTMLElement;
let host: FakeHost;
const q = (sel: string) => root.querySelector<HTMLElement>(sel);
const tid = (id: string) => q(`[data-testid="${id}"]`);
const flush = () => new Promise((r) => setTimeout(r, 20));

function typeInto(el: HTMLElement | null, value: string) {
  const input = el as HTMLInputElement;
  input.value = value;
  input.dispatchEvent(new Event("input"));
}

async function discovered(): Promise<Wizard> {
  await host.discover({ kind: "copy", root: "/srv/copy" });
  host.calls = [];
  return Wizard.start(root, host);
}

beforeEach(() => {
  document.body.innerHTML = "";
  root = document.createElement("div");
  document.body.append(root);
  host = new FakeHost();
});

describe("Discover: decisions on warnings", () => {
  it("records the admin's decision so the step stops needing attention", async () => {
    await discovered();
    tid("phase-discover")!.click();
    expect(tid("phase-discover")!.dataset.state).toBe("needs_attention");
    q('[data-testid="warning-orphan_store"] [data-testid="decide-keep"]')!.click();
    await flush();
    expect(host.calls).toContain("decide orphan_store ORPHAN-1 keep");
    expect(q('[data-testid="warning-orphan_store"] [data-testid="decision"]')!.textContent).toContain("Keep it: I will archive it");
    q('[data-testid="warning-address_not_in_virtual_users"] [data-testid="decide-alias"]')!.click();
    await flush();
    expect(tid("phase-discover")!.dataset.state).toBe("done");
    expect(q('[data-testid="warnings"] h2')!.textContent).toBe("Decided (2)");
  });
});

describe("Destination", () => {
  it("checks and pins another IMAP host's certificate, then shows the plan", async () => {
    await discovered();
    expect(tid("screen-destination")).not.toBeNull();
    q('[data-testid="preset-genericImap"]')!.click();
    typeInto(tid("imap-host"), "127.0.0.1");
    typeInto(tid("imap-port"), "10993");
    tid("check-certificate")!.click();
    await flush();
    expect(host.calls).toContain("probe 127.0.0.1:10993 tls");
    expect(tid("fingerprint")!.textContent).toBe(Array(32).fill("ab").join(":"));
    // an untrusted certificate must be accepted first
    expect((tid("save-destination") as HTMLButtonElement).disabled).toBe(true);
    tid("trust-certificate")!.click();
    (tid("trust-certificate") as HTMLInputElement).dispatchEvent(new Event("change"));
    expect((tid("save-destination") as HTMLButtonElement).disabled).toBe(false);
    tid("save-destination")!.click();
    await flush();
    const sent = JSON.parse(host.calls.find((c) => c.startsWith("destination "))!.slice("destination ".length));
    expect(sent).toEqual({ preset: "genericImap", imap_host: "127.0.0.1", imap_port: 10993, imap_security: "tls", smtp_host: null, pinned_sha256: "ab".repeat(32) });
    expect(tid("destination-host")!.textContent).toBe("127.0.0.1:10993");
    expect(q('[data-testid="plan"] h2')!.textContent).toBe("Accounts to move (3 of 3)");
  });

  it("changes an account's address and leaves one behind", async () => {
    await discovered();
    await host.chooseDestination({ preset: "genericImap", imap_host: "imap.new.example", imap_port: 993, imap_security: "tls", smtp_host: null, pinned_sha256: null });
    host.calls = [];
    const w = new Wizard(root, host, host.info, host.view);
    w.state.selected = "destination";
    w.render();
    const address = q('[data-testid="plan-jdoe"] [data-testid="dest-address"]') as HTMLInputElement;
    address.value = " john.doe@new.example ";
    address.dispatchEvent(new Event("change"));
    await flush();
    expect(host.calls).toEqual(['change john@example.com {"change":"dest_address","value":"john.doe@new.example"}']);
    const include = q('[data-testid="plan-bmueller"] [data-testid="include"]') as HTMLInputElement;
    include.checked = false;
    include.dispatchEvent(new Event("change"));
    await flush();
    expect(q('[data-testid="plan"] h2')!.textContent).toBe("Accounts to move (2 of 3)");
  });

  it("names a missing host name instead of connecting", async () => {
    await discovered();
    q('[data-testid="preset-genericImap"]')!.click();
    tid("check-certificate")!.click();
    await flush();
    expect(host.calls.filter((c) => c.startsWith("probe"))).toEqual([]);
    expect(tid("error-message")!.textContent).toBe("Enter the host name of the new IMAP server (for example imap.example.com).");
  });

  it("says what is missing before discovery", async () => {
    await Wizard.start(root, host);
    tid("phase-destination")!.click();
    expect(tid("empty")!.textContent).toContain("Discover the old server first");
  });
});

describe("Credentials", () => {
  it("stores typed passwords one way and shows each login's check", async () => {
    await discovered();
    await host.chooseDestination({ preset: "genericImap", imap_host: "imap.new.example", imap_port: 993, imap_security: "tls", smtp_host: null, pinned_sha256: null });
    const w = new Wizard(root, host, host.info, host.view);
    w.state.selected = "credentials";
    w.render();
    const pw = (login: string) => q(`[data-testid="cred-${login}"] [data-testid="password"]`) as HTMLInputElement;
    expect(pw("jdoe").type).toBe("password");
    q('[data-testid="cred-jdoe"] [data-testid="show-password"]')!.click();
    expect(pw("jdoe").type).toBe("text");
    typeInto(pw("jdoe"), "s3cret-jdoe");
    typeInto(pw("asmith"), "wrong");
    tid("store-passwords")!.click();
    await flush();
    expect(host.received).toEqual({ "john@example.com": "s3cret-jdoe", "asmith@example.com": "wrong" });
    // the typed values are gone from the screen and the wizard's state
    expect(pw("jdoe").value).toBe("");
    expect(JSON.stringify(w.state.typed)).toBe("{}");
    expect(pw("jdoe").placeholder).toBe("Stored (type to replace)");
    tid("check-logins")!.click();
    await flush();
    const status = (login: string) => q(`[data-testid="cred-${login}"] [data-testid="check-status"]`)!;
    expect(status("jdoe").dataset.status).toBe("ok");
    expect(status("jdoe").textContent).toBe("Signs in");
    expect(status("asmith").textContent).toBe("Wrong password");
    expect(q('[data-testid="cred-asmith"] [data-testid="check"]')!.textContent).toContain("Check the password on the new host.");
    expect(status("bmueller").textContent).toBe("No password yet");
    expect(q('[data-testid="passwords"] h2')!.textContent).toBe("Passwords on imap.new.example (1 of 3 sign in)");
  });
});

function progress(account: string, done: number, total: number, extra: Partial<AccountProgress> = {}): AccountProgress {
  return {
    account,
    stage: "copying",
    folder: "INBOX",
    messages_done: done,
    messages_total: total,
    bytes_done: done * 1000,
    bytes_total: total * 1000,
    bytes_per_second: 50_000,
    eta_seconds: 125,
    failures: 0,
    error: null,
    ...extra,
  };
}

describe("Initial sync", () => {
  it("starts the job, streams bars, a chart and the time left, pauses, and ends", async () => {
    await discovered();
    await host.chooseDestination({ preset: "genericImap", imap_host: "imap.new.example", imap_port: 993, imap_security: "tls", smtp_host: null, pinned_sha256: null });
    const w = new Wizard(root, host, host.info, host.view);
    await host.watchJobs((e) => w.onJobEvent(e));
    w.state.selected = "initial_sync";
    w.render();
    expect(tid("sync-scope")!.textContent).toBe("3 accounts, 17,800 messages, 17 MiB on the old server.");
    tid("start-sync")!.click();
    await flush();
    expect(host.calls).toContain("start initial_sync");
    host.emit({ job_id: "job-1", event: { kind: "started", job: "initial_sync", accounts: [progress("john@example.com", 0, 10, { stage: "waiting", eta_seconds: null })] } });
    host.emit({ job_id: "job-1", event: { kind: "account", progress: progress("john@example.com", 4, 10) } });
    host.emit({ job_id: "job-1", event: { kind: "account", progress: progress("john@example.com", 5, 10) } });
    await flush();
    const row = '[data-testid="progress-john@example.com"]';
    expect(q(`${row} [data-testid="messages-done"]`)!.textContent).toBe("5 of 10");
    expect(q(`${row} [data-testid="bar-messages"]`)!.dataset.percent).toBe("50");
    expect(tid("overall")!.textContent).toBe("4.9 KiB of 9.8 KiB (50 %)");
    expect(tid("eta")!.textContent).toBe("About 2 min left");
    expect(tid("chart")!.dataset.samples).toBe("2");
    expect(q('[data-testid="chart"] polyline')).not.toBeNull();
    expect(q('[data-testid="chart"] .chart-peak')!.textContent).toBe("peak 49 KiB/s");
    tid("pause")!.click();
    await flush();
    expect(host.calls).toContain("cancel");
    host.emit({ job_id: "job-1", event: { kind: "finished", outcome: "cancelled", summary: "Paused: 5 of 10 messages copied; resume to continue." } });
    await flush();
    expect(tid("job-summary")!.textContent).toBe("Paused: 5 of 10 messages copied; resume to continue.");
    expect(tid("start-sync")!.textContent).toBe("Resume the initial sync");
    host.emit({ job_id: "job-1", event: { kind: "finished", outcome: "succeeded", summary: "Initial sync: 10 messages copied." } });
    await flush();
    expect(tid("start-sync")!.textContent).toBe("Run the initial sync again");
  });

  it("says when a run had nothing new to copy", async () => {
    await discovered();
    const w = new Wizard(root, host, host.info, host.view);
    await host.watchJobs((e) => w.onJobEvent(e));
    w.state.selected = "initial_sync";
    w.render();
    host.emit({ job_id: "job-2", event: { kind: "started", job: "initial_sync", accounts: [progress("john@example.com", 0, 0, { stage: "done", eta_seconds: null })] } });
    host.emit({ job_id: "job-2", event: { kind: "finished", outcome: "succeeded", summary: "Initial sync: nothing new to copy" } });
    await flush();
    expect(tid("overall")!.textContent).toBe("Nothing new to copy: every message was already there");
    // too quick to measure: no empty chart after the run
    expect(tid("chart")).toBeNull();
  });

  it("shows no chart after a run too quick to measure, even with samples of no speed", async () => {
    await discovered();
    const w = new Wizard(root, host, host.info, host.view);
    await host.watchJobs((e) => w.onJobEvent(e));
    w.state.selected = "initial_sync";
    w.render();
    host.emit({ job_id: "job-4", event: { kind: "started", job: "initial_sync", accounts: [progress("john@example.com", 0, 10, { stage: "waiting", eta_seconds: null })] } });
    host.emit({ job_id: "job-4", event: { kind: "account", progress: progress("john@example.com", 4, 10, { bytes_per_second: 0 }) } });
    host.emit({ job_id: "job-4", event: { kind: "account", progress: progress("john@example.com", 10, 10, { stage: "done" }) } });
    await flush();
    expect(tid("chart")!.dataset.samples).toBe("2");
    host.emit({ job_id: "job-4", event: { kind: "finished", outcome: "succeeded", summary: "Initial sync: 10 messages copied" } });
    await flush();
    // it said "measuring the speed…" over an empty chart of a run that had ended
    expect(tid("chart")).toBeNull();
  });

  it("keeps the chart of a finished run it measured, and offers the run again as the lesser button once done", async () => {
    await discovered();
    await host.chooseDestination({ preset: "genericImap", imap_host: "imap.new.example", imap_port: 993, imap_security: "tls", smtp_host: null, pinned_sha256: null });
    const w = new Wizard(root, host, host.info, host.view);
    await host.watchJobs((e) => w.onJobEvent(e));
    w.state.selected = "initial_sync";
    w.render();
    host.emit({ job_id: "job-3", event: { kind: "started", job: "initial_sync", accounts: [progress("john@example.com", 0, 10, { stage: "waiting", eta_seconds: null })] } });
    await flush();
    expect(q('[data-testid="chart"] .chart-peak')!.textContent).toBe("measuring the speed…");
    host.emit({ job_id: "job-3", event: { kind: "account", progress: progress("john@example.com", 4, 10) } });
    host.emit({ job_id: "job-3", event: { kind: "account", progress: progress("john@example.com", 10, 10, { stage: "done" }) } });
    host.emit({ job_id: "job-3", event: { kind: "finished", outcome: "succeeded", summary: "Initial sync: 10 messages copied" } });
    await flush();
    expect(tid("chart")!.dataset.samples).toBe("2");
    expect(tid("start-sync")!.className).toBe("primary");
    w.state.view.status.phases = w.state.view.status.phases.map((p) => (p.phase === "initial_sync" ? { ...p, state: "done" } : p));
    w.render();
    expect(tid("start-sync")!.textContent).toBe("Run the initial sync again");
    expect(tid("start-sync")!.className).toBe("secondary");
  });

  it("says what blocks it before the destination is chosen", async () => {
    await discovered();
    tid("phase-initial_sync")!.click();
    expect(tid("sync-blockers")!.textContent).toBe("Discover the old server first.");
    expect((tid("start-sync") as HTMLButtonElement).disabled).toBe(true);
  });
});

describe("Final sync", () => {
  it("asks before it runs", async () => {
    host.view = (await host.discover({ kind: "copy", root: "/srv" }));
    host.view.status.phases = host.view.status.phases.map((p) => (p.phase === "final_sync" ? { ...p, blockers: [] } : p));
    const w = await Wizard.start(root, host);
    w.state.selected = "final_sync";
    w.render();
    tid("start-sync")!.click();
    expect(tid("confirm-sync")).not.toBeNull();
    expect(host.calls).not.toContain("start final_sync");
    // One primary button while it asks: the confirmation's own; the start button waits.
    expect(Array.from(root.querySelectorAll("button.primary")).map((b) => b.textContent)).toEqual(["Run final sync"]);
    expect((tid("start-sync") as HTMLButtonElement).disabled).toBe(true);
    tid("confirm-yes")!.click();
    await flush();
    expect(host.calls).toContain("start final_sync");
  });
});

describe("Review", () => {
  function failure(account: string, folder: string, subject: string, reason: string) {
    return { account, folder, uid: 7, key: `${folder}/7`, size: 2048, subject, date: "2026-11-02", class: "refused", reason, advice: "Deliver it wrapped, or export it to an mbox file.", can_resolve: ["wrapped", "mbox"] };
  }
  it("shows each account's counts and the failed messages, filterable, with a retry", async () => {
    await discovered();
    host.reviewResult = {
      accounts: [
        { account: "maildir:/srv/copy/mail/GUID-jdoe => imaps://john@example.com@127.0.0.1:993", folders: [], source_messages: 12, source_bytes: 13_000, dest_messages: 11, dest_bytes: 12_000, missing: 1, failures: [failure("john@example.com", "Rechnungen/2018", "Invoice 42", "Message contains invalid header")], resolved: [], resolved_counts: { wrapped: 0, mbox: 0 }, error: null },
        { account: "maildir:/srv/copy/mail/GUID-asmith => imaps://asmith@example.com@127.0.0.1:993", folders: [], source_messages: 8, source_bytes: 7000, dest_messages: 7, dest_bytes: 6000, missing: 1, failures: [failure("asmith@example.com", "INBOX", "Holiday", "Message too large")], resolved: [], resolved_counts: { wrapped: 0, mbox: 0 }, error: null },
      ],
      source_messages: 20,
      source_bytes: 20_000,
      dest_messages: 18,
      dest_bytes: 18_000,
      missing: 2,
      failed: 2,
      resolved: { wrapped: 0, mbox: 0 },
      resolved_text: "",
      ok: false,
    } as unknown as Review;
    tid("phase-review")!.click();
    tid("check-review")!.click();
    await flush();
    expect(q('[data-testid="review-summary"] h2')!.textContent).toBe("2 messages not on the new host yet");
    expect(tid("review-counts")!.textContent).toBe("Old server: 20 messages (20 KiB). New host: 18 messages (18 KiB).");
    const john = '[data-testid="review-maildir:/srv/copy/mail/GUID-jdoe => imaps://john@example.com@127.0.0.1:993"]';
    expect(q(`${john} [data-testid="missing"]`)!.textContent).toBe("1");
    // the engine's key shown as the admin knows the account
    expect(q(`${john} td`)!.textContent).toBe("john@example.com");
    expect(root.querySelectorAll('[data-testid="failure"]').length).toBe(2);
    const filter = tid("failure-filter") as HTMLInputElement;
    filter.value = "too large";
    filter.dispatchEvent(new Event("change"));
    expect(root.querySelectorAll('[data-testid="failure"]').length).toBe(1);
    expect(q('[data-testid="failures"] h2')!.textContent).toBe("Messages that failed (1 of 2)");
    expect(accountName("maildir:/srv/copy/Library/Server/Mail/Data/mail/GUID-jdoe => imaps://john@example.com@127.0.0.1:993", host.view.plan)).toBe("john@example.com");
    expect(q('[data-testid="failure"]')!.textContent).toContain("Holiday");
    tid("retry")!.click();
    await flush();
    expect(host.calls).toContain("start retry");
  });

  it("says what to do first when nothing was copied", async () => {
    await discovered();
    host.failNext = { code: "not_ready", message: "Nothing was copied yet: run the initial sync first." };
    tid("phase-review")!.click();
    tid("check-review")!.click();
    await flush();
    expect(tid("error-message")!.textContent).toBe("Nothing was copied yet: run the initial sync first.");
  });
});

describe("DNS prep", () => {
  it("shows each domain's answer per resolver, the TTL advice and SPF; asks for a generic host's MX", async () => {
    await discovered();
    await host.chooseDestination({ preset: "genericImap", imap_host: "imap.new.example", imap_port: 993, imap_security: "tls", smtp_host: null, pinned_sha256: null });
    host.dnsResult = {
      checked_at: "2026-12-04T18:00:00Z",
      all_new: false,
      warnings: ["example.org: SPF does not include the new host."],
      domains: [
        {
          domain: "example.com",
          points: "both",
          still_old: ["127.0.0.1:5301"],
          failed: [],
          ttl: { stage: "under_way", max_ttl: 3600, recommended_ttl: 300, lower_first: false, wait_secs: 3600, text: "Some resolvers still answer the old server: wait up to the old TTL." },
          answers: [
            { resolver: "127.0.0.1:5300", status: "answered", points: "new", error: null, mx: [{ preference: 10, host: "mx.new.example", ttl: 300, addresses: [], points: "new", error: null }] },
            { resolver: "127.0.0.1:5301", status: "answered", points: "old", error: null, mx: [{ preference: 10, host: "mail.example.com", ttl: 3600, addresses: [], points: "old", error: null }] },
          ],
          spf: { record: "v=spf1 mx -all", verdict: "does_not_allow", detail: "", warning: "Add include:_spf.new.example before the switch.", new_host_ips: [], resolver: "127.0.0.1:5300" },
        },
      ],
    } as unknown as DnsReport;
    const w = new Wizard(root, host, host.info, host.view);
    w.state.selected = "dns_prep";
    w.render();
    const mx = tid("new-mx") as HTMLInputElement;
    mx.value = "mx.new.example, mx2.new.example";
    mx.dispatchEvent(new Event("input"));
    expect(host.calls.filter((c) => c.startsWith("dns"))).toEqual([]);
    tid("check-dns")!.click();
    await flush();
    // the typed names are saved before the check asks the resolvers
    expect(host.calls.filter((c) => c.startsWith("dns"))).toEqual(['dns_settings ["mx.new.example","mx2.new.example"]', "dns_check"]);
    const d = '[data-testid="dns-example.com"]';
    expect(q(`${d} [data-testid="points"]`)!.textContent).toBe("Both (the switch is under way)");
    expect(q(`${d} [data-testid="resolver-127.0.0.1:5301"]`)!.textContent).toBe("127.0.0.1:530110 mail.example.com (TTL 1 h)Old server");
    expect(q(`${d} [data-testid="ttl"]`)!.textContent).toBe("Some resolvers still answer the old server: wait up to the old TTL.");
    expect(q(`${d} [data-testid="spf"]`)!.textContent).toContain("SPF does not let the new host send yet");
    expect(q(`${d} [data-testid="spf"]`)!.textContent).toContain("Add include:_spf.new.example before the switch.");
    expect(tid("dns-warnings")!.textContent).toBe("example.org: SPF does not include the new host.");
  });
});

describe("DNS prep: the old TTL counted down after lowering", () => {
  afterEach(() => vi.useRealTimers());

  const before = (domain: string, ttl: number) => ({
    domain,
    points: "old",
    still_old: ["127.0.0.1:5300"],
    failed: [],
    ttl: { stage: "before", max_ttl: ttl, recommended_ttl: 300, lower_first: ttl > 300, wait_secs: ttl, text: `Lower the TTL from ${ttl} s.` },
    answers: [],
    spf: { record: null, verdict: "no_record", detail: "", warning: null, new_host_ips: [], resolver: null },
  });

  it("offers 'I lowered the TTL', then counts the highest old TTL down in local time, then says to switch", async () => {
    // local 09:00 (the screen shows local time; the constructor takes local time too)
    const lowered = new Date(2026, 11, 4, 9, 0, 0);
    vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout", "requestAnimationFrame"], now: lowered });
    const tick = (ms: number) => vi.advanceTimersByTimeAsync(ms);
    await host.discover({ kind: "copy", root: "/srv/copy" });
    await host.chooseDestination({ preset: "fastmail", imap_host: null, imap_port: null, imap_security: null, smtp_host: null, pinned_sha256: null });
    host.dnsResult = { checked_at: "2026-12-04T08:50:00Z", all_new: false, warnings: [], domains: [before("example.com", 3600), before("example.org", 600)] } as unknown as DnsReport;
    const w = new Wizard(root, host, host.info, host.view);
    w.state.selected = "dns_prep";
    w.render();
    // nothing to count before a check
    expect(tid("ttl-wait")).toBeNull();
    tid("check-dns")!.click();
    await tick(20);
    expect(tid("ttl-wait")!.dataset.state).toBe("not_lowered");
    expect(q('[data-testid="ttl-wait"] p')!.textContent).toBe(
      "Once you have lowered the TTL at your DNS provider, tell Ferry. Resolvers may still hold the old answer for up to the old TTL (1 h): Ferry counts it down and tells you when to switch the MX records.",
    );
    host.calls = [];
    tid("ttl-lowered")!.click();
    await tick(20);
    expect(host.calls).toEqual(["mark_ttl_lowered"]);
    expect(tid("ttl-wait")!.dataset.state).toBe("waiting");
    expect(tid("ttl-wait-title")!.textContent).toBe("Switch the MX records after 4 Dec 2026, 10:00");
    expect(tid("ttl-wait-text")!.textContent).toBe(
      "1 h left. You lowered the TTL on 4 Dec 2026, 09:00; until the old TTL (1 h) has passed, some resolvers may still send mail to the old server.",
    );
    expect(tid("ttl-bar")!.dataset.percent).toBe("0");
    // the screen moves on by itself (one re-render every 30 s; nothing asked of the host)
    host.calls = [];
    // (15 min 10 s on: the last re-render came at 15 min)
    await tick(15 * 60_000 + 10_000);
    expect(tid("ttl-wait-text")!.textContent).toBe(
      "45 min left. You lowered the TTL on 4 Dec 2026, 09:00; until the old TTL (1 h) has passed, some resolvers may still send mail to the old server.",
    );
    expect(tid("ttl-bar")!.dataset.percent).toBe("25");
    expect(host.calls).toEqual([]);
    // Cut-over says so too, before the admin clicks "I switched the MX records"
    tid("phase-cutover")!.click();
    await tick(20);
    expect(tid("cutover-ttl")!.textContent).toBe(
      "Better wait until 4 Dec 2026, 10:00 (45 min from now). You lowered the TTL on 4 Dec 2026, 09:00: until the old TTL (1 h) has passed, some resolvers still send mail to the old server. Ferry would copy that mail too, in the cut-over and final syncs, but people would see it late.",
    );
    tid("phase-dns_prep")!.click();
    await tick(20);
    await tick(45 * 60_000);
    expect(tid("ttl-wait")!.dataset.state).toBe("passed");
    expect(tid("ttl-wait-title")!.textContent).toBe("The old TTL has passed: switch the MX records now");
    expect(tid("ttl-wait-text")!.textContent).toBe(
      "You lowered the TTL on 4 Dec 2026, 09:00, and the old TTL (1 h) has passed. Switch the MX records at your DNS provider, then continue to Cut-over and tell Ferry.",
    );
    expect(tid("ttl-bar")!.dataset.percent).toBe("100");
    tid("phase-cutover")!.click();
    await tick(20);
    expect(tid("cutover")).not.toBeNull();
    expect(tid("cutover-ttl")).toBeNull();
    tid("phase-dns_prep")!.click();
    await tick(20);
    // once every domain answers the new host, there is nothing left to wait for
    expect(tid("check-dns")!.className).toBe("primary");
    host.dnsResult = { ...host.dnsResult, all_new: true };
    tid("check-dns")!.click();
    await tick(20);
    expect(tid("ttl-wait")).toBeNull();
    // nothing left to do here: checking again is the lesser button
    expect(tid("check-dns")!.className).toBe("secondary");
  });
});

describe("Cut-over", () => {
  it("starts the watch when the admin switched MX, shows each round and the sync it ran", async () => {
    await discovered();
    host.view.status.phases = host.view.status.phases.map((p) => (p.phase === "cutover" ? { ...p, blockers: [] } : p));
    const w = new Wizard(root, host, host.info, host.view);
    await host.watchJobs((e) => w.onJobEvent(e));
    w.state.selected = "cutover";
    w.render();
    tid("mx-switched")!.click();
    await flush();
    expect(host.calls).toContain("start dns_watch");
    host.emit({ job_id: "job-1", event: { kind: "started", job: "dns_watch", accounts: [] } });
    host.emit({ job_id: "job-1", event: { kind: "note", text: "Round 1: example.com still old on 127.0.0.1:53." } });
    await flush();
    expect(q('[data-testid="cutover"] h2')!.textContent).toBe("Watching the resolvers");
    expect(tid("cutover-summary")!.textContent).toBe("Round 1: example.com still old on 127.0.0.1:53.");
    // the watch runs the delta sync under its own id: still the cut-over's job
    host.emit({ job_id: "job-1", event: { kind: "started", job: "delta_sync", accounts: [progress("john@example.com", 0, 2, { stage: "waiting" })] } });
    await flush();
    expect(q('[data-testid="cutover"] h2')!.textContent).toBe("Watching the resolvers");
    host.emit({ job_id: "job-1", event: { kind: "account", progress: progress("john@example.com", 2, 2, { stage: "done" }) } });
    host.emit({ job_id: "job-1", event: { kind: "finished", outcome: "succeeded", summary: "Every resolver answers the new host. The cut-over sync ran by itself: 2 messages copied." } });
    await flush();
    expect(q('[data-testid="cutover"] h2')!.textContent).toBe("The cut-over watch ended");
    expect(q('[data-testid="cutover-john@example.com"]')!.textContent).toBe("john@example.com2 of 22.0 KiB");
    expect(tid("mx-switched")!.className).toBe("primary");
    // once the step is done, watching again is the lesser button and Continue the default
    w.state.view.status.phases = w.state.view.status.phases.map((p) => (p.phase === "cutover" ? { ...p, state: "done" } : p));
    w.render();
    expect(tid("mx-switched")!.textContent).toBe("Watch again");
    expect(tid("mx-switched")!.className).toBe("secondary");
    expect(tid("continue")!.className).toBe("primary");
  });

  it("cannot start while something blocks it", async () => {
    await discovered();
    tid("phase-cutover")!.click();
    expect((tid("mx-switched") as HTMLButtonElement).disabled).toBe(true);
    expect(tid("cutover-blockers")!.textContent).toBe("Discover the old server first.");
  });
});
