// The only module that imports @tauri-apps/*: everything else talks to the `Host` interface, so
// the wizard runs (and is tested) without Tauri.
import { Channel, invoke } from "@tauri-apps/api/core";
import type { AppView } from "../bindings/AppView";
import type { CommandError } from "../bindings/CommandError";
import type { JobEvent } from "../bindings/JobEvent";
import type { JobView } from "../bindings/JobView";
import type { Host } from "./types";
import { asCommandError } from "./types";

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (err) {
    throw asCommandError(err) satisfies CommandError;
  }
}

export const tauriHost: Host = {
  hostInfo: () => call("host_info"),
  appView: () => call<AppView>("app_view"),
  discover: (source) => call<AppView>("discover", { source }),
  startOver: () => call<AppView>("start_over"),
  chooseServerFolder: () => call<string | null>("choose_server_folder"),
  recordDecision: (code, subject, decision) => call<AppView>("record_decision", { code, subject, decision }),
  destinationPresets: () => call("destination_presets"),
  probeCertificate: (host, port, security) => call("probe_certificate", { host, port, security }),
  chooseDestination: (choice) => call<AppView>("choose_destination", { choice }),
  changeAccount: (sourceAddress, change) => call<AppView>("change_account", { sourceAddress, change }),
  setPassword: (sourceAddress, password) => call<AppView>("set_password", { sourceAddress, password }),
  checkLogins: () => call("check_logins"),
  review: () => call("review"),
  dnsCheck: () => call("dns_check"),
  markTtlLowered: () => call("mark_ttl_lowered"),
  dnsSettings: () => call("dns_settings"),
  setDnsSettings: (settings) => call("set_dns_settings", { settings }),
  startSync: (kind) => call<string>("start_sync", { kind }),
  cancelJob: () => call<boolean>("cancel_job"),
  watchJobs: (onEvent) => {
    const channel = new Channel<JobEvent>();
    channel.onmessage = onEvent;
    return call<JobView | null>("watch_jobs", { channel });
  },
  chooseOutputFolder: () => call<string | null>("choose_output_folder"),
  exportProfiles: (choice) => call("export_profiles", { choice }),
  archiveQuarantine: (target) => call("archive_quarantine", { target }),
  decommission: (writeReport) => call("decommission", { writeReport }),
  markCloneKept: () => call<AppView>("mark_clone_kept"),
  openRecorded: (what) => call<void>("open_recorded", { what }),
  resolveMessage: (account, message, way) => call("resolve_message", { account, message, way }),
  chooseOAuthFile: (what) => call<string | null>("choose_oauth_file", { what }),
  chooseOAuthDestination: (signIn, clientSecret) => call<AppView>("choose_oauth_destination", { signIn, clientSecret }),
  vaultStatus: () => call("vault_status"),
  unlockVault: (passphrase) => call("unlock_vault", { passphrase }),
  sourceImap: () => call("source_imap"),
  setSourceImap: (imap) => call("set_source_imap", { imap }),
  setSourcePassword: (sourceAddress, password) => call<AppView>("set_source_password", { sourceAddress, password }),
  choosePasswordFile: () => call<string | null>("choose_password_file"),
  previewPasswordFile: (path) => call("preview_password_file", { path }),
  importPasswordFile: () => call("import_password_file"),
  deletePasswordFile: () => call<void>("delete_password_file"),
};
