// What the wizard needs from its host (the Tauri app, or a fake in tests).
import type { AccountChange } from "../bindings/AccountChange";
import type { AppView } from "../bindings/AppView";
import type { CertificateInfo } from "../bindings/CertificateInfo";
import type { CheckReport } from "../bindings/CheckReport";
import type { CommandError } from "../bindings/CommandError";
import type { DecommissionScreen } from "../bindings/DecommissionScreen";
import type { Destination } from "../bindings/Destination";
import type { DestinationChoice } from "../bindings/DestinationChoice";
import type { ExportReport } from "../bindings/ExportReport";
import type { HostInfo } from "../bindings/HostInfo";
import type { ImportPreview } from "../bindings/ImportPreview";
import type { JobEvent } from "../bindings/JobEvent";
import type { JobKind } from "../bindings/JobKind";
import type { JobView } from "../bindings/JobView";
import type { OpenWhat } from "../bindings/OpenWhat";
import type { PasswordImport } from "../bindings/PasswordImport";
import type { ProfilesChoice } from "../bindings/ProfilesChoice";
import type { QuarantineArchive } from "../bindings/QuarantineArchive";
import type { QuarantineTarget } from "../bindings/QuarantineTarget";
import type { MessageRef } from "../bindings/MessageRef";
import type { ResolvedMessage } from "../bindings/ResolvedMessage";
import type { ResolveWay } from "../bindings/ResolveWay";
import type { Review } from "../bindings/Review";
import type { DnsReport } from "../bindings/DnsReport";
import type { DnsSettings } from "../bindings/DnsSettings";
import type { Security } from "../bindings/Security";
import type { Source } from "../bindings/Source";
import type { OAuthFile } from "../bindings/OAuthFile";
import type { OAuthSignIn } from "../bindings/OAuthSignIn";
import type { VaultStatus } from "../bindings/VaultStatus";
import type { SourceImap } from "../bindings/SourceImap";

export interface Host {
  hostInfo(): Promise<HostInfo>;
  appView(): Promise<AppView>;
  discover(source: Source): Promise<AppView>;
  startOver(): Promise<AppView>;
  /** The system's folder chooser; `null` when the admin cancels. */
  chooseServerFolder(): Promise<string | null>;
  recordDecision(code: string, subject: string, decision: string): Promise<AppView>;
  destinationPresets(): Promise<Destination[]>;
  probeCertificate(host: string, port: number, security: Security): Promise<CertificateInfo>;
  chooseDestination(choice: DestinationChoice): Promise<AppView>;
  changeAccount(sourceAddress: string, change: AccountChange): Promise<AppView>;
  /** One way only: the password is never returned, nor is any view carrying it. */
  setPassword(sourceAddress: string, password: string): Promise<AppView>;
  checkLogins(): Promise<CheckReport>;
  review(): Promise<Review>;
  dnsCheck(): Promise<DnsReport>;
  /** The admin lowered the TTL now: the view's `ttl_wait` counts down the old TTL from here. */
  markTtlLowered(): Promise<AppView>;
  dnsSettings(): Promise<DnsSettings>;
  setDnsSettings(settings: DnsSettings): Promise<DnsSettings>;
  startSync(kind: JobKind): Promise<string>;
  cancelJob(): Promise<boolean>;
  /** Job events as they happen (a Tauri channel: never polled); returns the current job. */
  watchJobs(onEvent: (event: JobEvent) => void): Promise<JobView | null>;
  /** The system's folder chooser for what Ferry writes (profiles, mbox files); `null` when cancelled. */
  chooseOutputFolder(): Promise<string | null>;
  exportProfiles(choice: ProfilesChoice): Promise<ExportReport>;
  archiveQuarantine(target: QuarantineTarget): Promise<QuarantineArchive>;
  decommission(writeReport: boolean): Promise<DecommissionScreen>;
  markCloneKept(): Promise<AppView>;
  /** Opens a folder or the final report the project recorded (never a path of the web view's). */
  openRecorded(what: OpenWhat): Promise<void>;
  /** Keeps a refused message (the mbox file is chosen in the system's save dialog); `null` when cancelled. */
  resolveMessage(account: string, message: MessageRef, way: ResolveWay): Promise<ResolvedMessage | null>;
  /** The system's file chooser for a key or certificate file; only its path comes back (`null` when cancelled). */
  chooseOAuthFile(what: OAuthFile): Promise<string | null>;
  /** Microsoft 365 / Google Workspace with the app's sign-in. One way only: the secret is never returned. */
  chooseOAuthDestination(signIn: OAuthSignIn, clientSecret: string | null): Promise<AppView>;
  /** Where Ferry's encrypted password file is and whether it waits for its passphrase. */
  vaultStatus(): Promise<VaultStatus>;
  /** One way only: the passphrase is never returned (see wizard/passphrase.ts). */
  unlockVault(passphrase: string): Promise<VaultStatus>;
  /** The old server's IMAP service for accounts read over IMAP; `null` until it is set. */
  sourceImap(): Promise<SourceImap | null>;
  setSourceImap(imap: SourceImap): Promise<SourceImap>;
  /** One way only, as `setPassword`: the old server's password of an account read over IMAP. */
  setSourcePassword(sourceAddress: string, password: string): Promise<AppView>;
  /** The system's open dialog for a password file; `null` when the admin cancels. */
  choosePasswordFile(): Promise<string | null>;
  /** Reads the file against the plan and stores nothing; no password comes back. */
  previewPasswordFile(path: string): Promise<ImportPreview>;
  /** Stores the passwords of the file last previewed (all or none). */
  importPasswordFile(): Promise<PasswordImport>;
  /** Overwrites and deletes the file Rust imported (no path from here). */
  deletePasswordFile(): Promise<void>;
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
