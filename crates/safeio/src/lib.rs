//! Two small safety rules every Ferry crate that writes a file or starts a program follows.
//!
//! - [`fs`]: files are written in folders the admin chose (an export folder, the vault's folder,
//!   an archive folder). A symbolic link planted where Ferry creates or replaces a file would make
//!   it write somewhere else (a victim file the admin may write to): so no function here follows a
//!   link at the file's own name, and files that hold names, subjects or secrets are created
//!   readable by their owner only.
//! - [`child`]: a program Ferry starts (`serveradmin`, `dscl`, `security cms`) gets a clean
//!   environment: the parent's holds `FERRY_*_PASSWORD`, `FERRY_VAULT_PASSPHRASE` and
//!   `FERRY_P12_PASSWORD`.
//!
//! Why a crate of its own: the vault, the sync ledger, the quarantine archive, discovery, profile
//! signing and the project's exports all need these few functions, and they share no crate lower
//! than themselves; one copy here cannot drift the way four copies would.

pub mod child;
pub mod fs;
