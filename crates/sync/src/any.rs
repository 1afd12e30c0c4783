//! A source chosen at run time (IMAP or Maildir on disk), for callers that decide from a URL.

use crate::error::SideError;
use crate::imap::ImapSide;
use crate::maildir::MaildirSource;
use crate::mapping::Namespace;
use crate::side::{FetchedMessage, FolderStatus, MessageMeta, Source, SourceFolder};

// One value per account for the whole run: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
pub enum AnySource {
    Imap(ImapSide),
    Maildir(MaildirSource),
}

impl Source for AnySource {
    fn describe(&self) -> String {
        match self {
            AnySource::Imap(s) => Source::describe(s),
            AnySource::Maildir(s) => s.describe(),
        }
    }

    fn account(&self) -> String {
        match self {
            AnySource::Imap(s) => Source::account(s),
            AnySource::Maildir(s) => s.account(),
        }
    }

    async fn namespace(&self) -> Result<Namespace, SideError> {
        match self {
            AnySource::Imap(s) => Source::namespace(s).await,
            AnySource::Maildir(s) => s.namespace().await,
        }
    }

    async fn folders(&self) -> Result<Vec<SourceFolder>, SideError> {
        match self {
            AnySource::Imap(s) => Source::folders(s).await,
            AnySource::Maildir(s) => s.folders().await,
        }
    }

    async fn status(&self, folder: &str) -> Result<FolderStatus, SideError> {
        match self {
            AnySource::Imap(s) => Source::status(s, folder).await,
            AnySource::Maildir(s) => s.status(folder).await,
        }
    }

    async fn list(&self, folder: &str, from_uid: u32) -> Result<Vec<MessageMeta>, SideError> {
        match self {
            AnySource::Imap(s) => s.list(folder, from_uid).await,
            AnySource::Maildir(s) => s.list(folder, from_uid).await,
        }
    }

    async fn identity_headers(
        &self,
        folder: &str,
        messages: &[MessageMeta],
    ) -> Result<Vec<(String, Vec<u8>)>, SideError> {
        match self {
            AnySource::Imap(s) => s.identity_headers(folder, messages).await,
            AnySource::Maildir(s) => s.identity_headers(folder, messages).await,
        }
    }

    async fn fetch(
        &self,
        folder: &str,
        messages: &[MessageMeta],
    ) -> Result<Vec<FetchedMessage>, SideError> {
        match self {
            AnySource::Imap(s) => s.fetch(folder, messages).await,
            AnySource::Maildir(s) => s.fetch(folder, messages).await,
        }
    }

    async fn flag_changes(
        &self,
        folder: &str,
        up_to_uid: u32,
        since_modseq: u64,
    ) -> Result<Option<crate::side::FlagChanges>, SideError> {
        match self {
            AnySource::Imap(s) => s.flag_changes(folder, up_to_uid, since_modseq).await,
            AnySource::Maildir(s) => s.flag_changes(folder, up_to_uid, since_modseq).await,
        }
    }

    async fn change_token(&self, folder: &str) -> Result<Option<u64>, SideError> {
        match self {
            AnySource::Imap(s) => s.change_token(folder).await,
            AnySource::Maildir(s) => s.change_token(folder).await,
        }
    }

    fn lists_current_flags(&self) -> bool {
        match self {
            AnySource::Imap(s) => s.lists_current_flags(),
            AnySource::Maildir(s) => s.lists_current_flags(),
        }
    }

    fn left_out(&self, folder: &str) -> u64 {
        match self {
            AnySource::Imap(s) => s.left_out(folder),
            AnySource::Maildir(s) => s.left_out(folder),
        }
    }
}
