// What the wizard needs from its host (the Tauri app, or a fake in tests).
import type { AppView } from "../bindings/AppView";
import type { CommandError } from "../bindings/CommandError";
import type { HostInfo } from "../bindings/HostInfo";
import type { Source } from "../bindings/Source";

export interface Host {
  hostInfo(): Promise<HostInfo>;
  appView(): Promise<AppView>;
  discover(source: Source): Promise<AppView>;
  startOver(): Promise<AppView>;
  /** The system's folder chooser; `null` when the admin cancels. */
  chooseServerFolder(): Promise<string | null>;
}

/** Commands fail with a CommandError; anything else (a bug, a lost IPC) becomes an `internal` one. */
export function asCommandError(err: unknown): CommandError {
  if (
    typeof err === "object" &&
    err !== null &&
    typeof (err as CommandError).code === "string" &&
    typeof (err as CommandError).message === "string"
  ) {
    return err as CommandError;
  }
  return { code: "internal", message: err instanceof Error ? err.message : String(err) };
}
