export type FolderRole = "inbox" | "sent" | "drafts" | "trash" | "junk" | "archive" | "notes";
