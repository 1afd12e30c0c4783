//! The migration project: the phases of DESIGN.md as typed functions that the CLI and the app call.
//! Neither the CLI nor the app holds phase logic; each phase module here orchestrates the crates
//! below it (discover, sync, vault, profiles, cutover).

pub mod credentials;
pub mod cutover;
pub mod decommission;
pub mod destination;
pub mod discover;
pub mod host;
pub mod jobs;
pub mod passphrase;
pub mod phases;
pub mod plan;
pub mod profiles;
pub mod project;
pub mod report;
pub mod review;
pub mod status;
pub mod store;
pub mod sync;
pub mod words;
