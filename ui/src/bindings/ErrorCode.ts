export type ErrorCode = "not_found" | "permission_denied" | "malformed" | "server_tools" | "project_file" | "busy" | "internal";
