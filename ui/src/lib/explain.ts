// The words around discovery's findings: for each warning, a short title and what it means for
// the migration; for each error, what to do. Discovery's own sentence (what was found, where)
// is shown as well; these add the context an admin who has never migrated a mail server needs.
import type { CommandError } from "../bindings/CommandError";
import type { ErrorCode } from "../bindings/ErrorCode";
import type { WarningCode } from "../bindings/WarningCode";

export interface Explanation {
  title: string;
  /** What to do about it, in the admin's terms. */
  todo: string;
}

// A Record over every code: adding a code in Rust without words here fails the type check.
const WARNINGS: Record<WarningCode, Explanation> = {
  address_not_in_virtual_users: {
    title: "An address the old server does not accept",
    todo: "The directory lists this address but Postfix's virtual_users file does not (a known macOS Server 5.4 bug), so mail to it bounces today. Decide whether the address should work on the new host; if so, create it there as an alias.",
  },
  virtual_user_unknown: {
    title: "Mail routed to a user who does not exist",
    todo: "A line in the server's address map points at no known user. Mail to that address bounces today. Nothing will be copied for it; create the address on the new host only if someone still needs it.",
  },
  missing_store: {
    title: "An account without a mailbox on disk",
    todo: "The account is set up for mail but has no mail store, so there is nothing to copy. Usually it never received mail. Create the account on the new host anyway if the person still needs it.",
  },
  unknown_partition: {
    title: "A mailbox on a disk the server no longer knows",
    todo: "The account's mail is said to live on a storage partition that the server's configuration does not list. Connect the disk that holds it (or restore it), then run discovery again; otherwise this mail cannot be copied.",
  },
  orphan_store: {
    title: "Mail that belongs to no user",
    todo: "A mail store exists for someone who is no longer in the directory (a deleted user). Ferry will not copy it on its own. Decide whether it must be kept, for example in a shared archive mailbox.",
  },
  duplicate_role: {
    title: "Two folders with the same job",
    todo: "Users collect such pairs when they switch mail apps (Outlook's 'Sent Items', Apple Mail's 'Sent Messages'). The mail of both is copied; unless you map them otherwise, it ends up together in the new host's one folder of that kind. Tell the user, so they know where to look.",
  },
  deleted_pending: {
    title: "Messages deleted but not yet removed",
    todo: "The user deleted these messages, but their mail app never erased them, so they still take space on the old server. Decide whether they should move too; if not, ask the user to erase deleted messages (Apple Mail: Mailbox → Erase Deleted Items) before the copy.",
  },
  missing_file: {
    title: "A configuration file is missing",
    todo: "An optional file was not found, so what it would say is unknown. If this is a copy of the server, check the copy is complete; on the server itself this is usually harmless.",
  },
  no_mail_settings: {
    title: "A user without mail settings",
    todo: "The user has mail in the store but no mail settings, so their state and quota are unknown. Check the user in Server.app; Ferry treats them as active.",
  },
  unknown_setting: {
    title: "A setting Ferry does not know",
    todo: "A mail setting has a value Ferry has not seen before. Check the account in Server.app and make sure the new host is set up as you expect.",
  },
  unreadable_store: {
    title: "Part of a mailbox could not be read",
    todo: "Ferry could not read some folders or files of this store, so counts and sizes may be short. Run Ferry with the rights to read the whole store (on the server: as an administrator, with Full Disk Access), then run discovery again.",
  },
  alias_unknown_target: {
    title: "An alias that leads nowhere",
    todo: "An alias points at something that is neither an account, another alias nor an address. Mail to it bounces today. Recreate it on the new host only with a working target.",
  },
  inconsistent: {
    title: "Two sources disagree",
    todo: "Two places on the server say different things (for example Server.app's settings and Postfix's main.cf). Ferry used the one named in the message; check which is right before you set up the new host.",
  },
  over_quota: {
    title: "A mailbox over its quota",
    todo: "The mailbox holds more than its quota allows. Make sure the new host gives this account enough space, or the copy will stop when it is full.",
  },
  outside_root: {
    title: "A path that leads out of the server's folder",
    todo: "The server's configuration or directory names a place outside the folder Ferry was given (through '..' or a link), so Ferry did not read it. If this is a copy of the server, copy what the path points at into the copy, or correct the path; then run discovery again.",
  },
};

export function explainWarning(code: WarningCode): Explanation {
  return WARNINGS[code];
}

export const WARNING_CODES = Object.keys(WARNINGS) as WarningCode[];

export interface DecisionChoice {
  /** What the project records. */
  value: string;
  /** The button, in the admin's words. */
  label: string;
}

// The answers a warning asks for; each is recorded in the migration, so the step is done.
const CHOICES: Partial<Record<WarningCode, DecisionChoice[]>> = {
  address_not_in_virtual_users: [
    { value: "alias", label: "I will create it as an alias on the new host" },
    { value: "drop", label: "Not needed" },
  ],
  orphan_store: [
    { value: "keep", label: "Keep it: I will archive it" },
    { value: "skip", label: "Not needed" },
  ],
  duplicate_role: [
    { value: "merge", label: "Copy both into the one folder" },
    { value: "noted", label: "I will map them myself" },
  ],
  deleted_pending: [
    { value: "copy", label: "Copy them too" },
    { value: "erase_first", label: "Users will erase them first" },
  ],
  virtual_user_unknown: [
    { value: "drop", label: "Not needed" },
    { value: "alias", label: "I will create it on the new host" },
  ],
};

export function decisionChoices(code: WarningCode): DecisionChoice[] {
  return CHOICES[code] ?? [{ value: "noted", label: "Noted" }];
}

export interface ErrorHelp {
  title: string;
  /** Steps to fix it, in order. */
  steps: string[];
}

const FULL_DISK_ACCESS: string[] = [
  "Open System Settings (System Preferences on older macOS), then Privacy & Security → Full Disk Access.",
  "Click +, choose Ferry in the Applications folder, and switch it on. macOS may ask for an administrator password.",
  "Quit Ferry and open it again (macOS applies the change on restart), then click Discover.",
];

export function explainError(err: CommandError, os: string): ErrorHelp {
  const titles: Record<ErrorCode, string> = {
    not_found: "Ferry cannot find the server's files there",
    permission_denied: "Ferry is not allowed to read the server's files",
    malformed: "A file on the server could not be understood",
    server_tools: "The server's own tools did not answer",
    copy_without_commands: "This copy lacks the server's directory",
    cancelled: "Nothing was chosen",
    not_ready: "An earlier step is missing",
    invalid: "That cannot be used",
    connection: "Ferry could not reach the server",
    vault: "The password store could not be opened",
    vault_locked: "Ferry's password file is locked",
    project_file: "Ferry could not save or read this migration",
    busy: "Discovery is already running",
    internal: "Something went wrong inside Ferry",
  };
  let steps: string[];
  switch (err.code) {
    case "not_found":
      steps = [
        "Click Choose… and pick the copy's top folder: the one that contains Library/Server/Mail.",
        "If you copied the server with a tool, make sure the copy finished.",
      ];
      break;
    case "permission_denied":
      steps =
        os === "macos"
          ? FULL_DISK_ACCESS
          : ["Give the user running Ferry read access to that folder (or run it as that folder's owner), then click Discover."];
      break;
    case "malformed":
      steps = ["The message names the file and line. Compare it with a backup of the server, fix or restore that line, then click Discover."];
      break;
    case "server_tools":
      steps = [
        "Run Ferry on the old server itself, signed in as an administrator.",
        "Check that Server.app opens and shows the Mail service, then click Discover.",
      ];
      break;
    case "copy_without_commands":
      steps = [
        "A copy of the files does not hold the server's user directory, so Ferry needs the output of two commands, saved on the old server. Ferry never reads a copy with the directory of the computer it runs on.",
        "On the old server, open Terminal and run: sudo serveradmin settings mail > serveradmin-settings-mail.txt",
        "Then run: sudo dscl /LDAPv3/127.0.0.1 -readall /Users EMailAddress GeneratedUID RealName RecordName UniqueID > dscl-readall-Users.txt",
        "Put both files in a folder named commands inside the copy (beside its Library folder), then click Discover.",
      ];
      break;
    case "cancelled":
      steps = ["Choose again when you are ready."];
      break;
    case "not_ready":
      steps = ["Do the step the message names first, then come back."];
      break;
    case "invalid":
      steps = ["Correct what the message names, then try again."];
      break;
    case "connection":
      steps = ["Check the host name and port, and that this computer can reach the server (network, firewall), then try again."];
      break;
    case "vault":
      steps =
        os === "macos"
          ? ["Unlock the login keychain (Keychain Access), then try again."]
          : ["Sign in to a desktop session with a keyring (GNOME Keyring, KWallet), then try again."];
      break;
    case "vault_locked":
      steps = ["Do the step again and enter the passphrase of Ferry's password file when Ferry asks for it."];
      break;
    case "project_file":
      steps = ["Check the free disk space and the permissions of the folder named in the message."];
      break;
    case "busy":
      steps = ["Wait for the running discovery to finish."];
      break;
    case "internal":
      steps = ["Try again. If it happens again, note the message and report it."];
      break;
  }
  return { title: titles[err.code], steps };
}
