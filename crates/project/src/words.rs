//! Small pieces of the sentences every phase, the CLI and the app show.

/// "1 account", "3 accounts".
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_and_many() {
        assert_eq!(super::plural(1, "account", "accounts"), "1 account");
        assert_eq!(super::plural(0, "account", "accounts"), "0 accounts");
        assert_eq!(super::plural(12, "mailbox", "mailboxes"), "12 mailboxes");
    }
}
