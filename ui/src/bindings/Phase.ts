export type Phase = "discover" | "destination" | "credentials" | "initial_sync" | "review" | "dns_prep" | "cutover" | "profiles" | "final_sync" | "quarantine" | "decommission";
