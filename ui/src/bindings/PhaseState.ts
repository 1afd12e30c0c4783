export type PhaseState = "not_started" | "running" | "done" | "needs_attention";
