// The only module that imports @tauri-apps/*: everything else talks to the `Host` interface, so
// the wizard runs (and is tested) without Tauri.
import { invoke } from "@tauri-apps/api/core";
import type { AppView } from "../bindings/AppView";
import type { CommandError } from "../bindings/CommandError";
import type { HostInfo } from "../bindings/HostInfo";
import type { Source } from "../bindings/Source";
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
  hostInfo: () => call<HostInfo>("host_info"),
  appView: () => call<AppView>("app_view"),
  discover: (source: Source) => call<AppView>("discover", { source }),
  startOver: () => call<AppView>("start_over"),
  chooseServerFolder: () => call<string | null>("choose_server_folder"),
};
