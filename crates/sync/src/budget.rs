//! A daily upload budget per account (Google Workspace accepts 500 MB per day per account over
//! IMAP), the clock it is measured by, and the plan-time estimate of the days a copy needs.
//!
//! The window is a rolling 24 hours. Google's bandwidth-limit page (support.google.com/a/answer/1071518)
//! gives the IMAP upload limit "per day" and names no reset time; an account that exceeds it is
//! suspended for up to 24 hours. Keeping every 24-hour span within the budget also keeps every
//! calendar day (whatever time zone the provider counts in) within it, so a rolling window is the
//! reading that can never trip the limit.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The time the budget is measured by; tests move it by hand.
pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until moved (tests, simulations).
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> ManualClock {
        ManualClock(Arc::new(Mutex::new(at)))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How much may be uploaded to one account's destination in any 24 hours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DailyBudget {
    pub bytes_per_day: u64,
}

/// The length of the rolling window.
pub fn window() -> Duration {
    Duration::hours(24)
}

impl DailyBudget {
    /// Google Workspace: 500 MB per day per account uploaded over IMAP
    /// (support.google.com/a/answer/1071518, "Gmail bandwidth limits").
    pub const GOOGLE_WORKSPACE: DailyBudget = DailyBudget {
        bytes_per_day: 500 * 1000 * 1000,
    };

    /// Bytes that may still be sent at `now`, given the uploads of the last 24 hours.
    pub fn remaining(&self, uploads: &[(DateTime<Utc>, u64)], now: DateTime<Utc>) -> u64 {
        let since = now - window();
        let used: u64 = uploads
            .iter()
            .filter(|(at, _)| *at > since && *at <= now)
            .map(|(_, b)| *b)
            .sum();
        self.bytes_per_day.saturating_sub(used)
    }

    /// The earliest time at which `need` bytes fit: when enough of the window's uploads have
    /// aged out of it. `need` above the whole budget never fits: `None`.
    pub fn fits_at(
        &self,
        uploads: &[(DateTime<Utc>, u64)],
        now: DateTime<Utc>,
        need: u64,
    ) -> Option<DateTime<Utc>> {
        if need > self.bytes_per_day {
            return None;
        }
        let mut remaining = self.remaining(uploads, now);
        if need <= remaining {
            return Some(now);
        }
        let since = now - window();
        let mut live: Vec<&(DateTime<Utc>, u64)> = uploads
            .iter()
            .filter(|(at, _)| *at > since && *at <= now)
            .collect();
        live.sort_by_key(|(at, _)| *at);
        for (at, bytes) in live {
            remaining += bytes;
            if need <= remaining {
                return Some(*at + window());
            }
        }
        Some(now + window())
    }
}

/// Plan-time estimate: the days a copy of messages of these sizes takes under the budget, when
/// each day's run sends the newest messages that still fit and stops at the first that does not
/// (what the engine does). `sizes` newest first. Messages larger than the whole budget are never
/// sent (they are listed as too big) and cost no day. 0 for nothing to send.
pub fn days_needed(sizes_newest_first: &[u64], budget: &DailyBudget) -> u32 {
    let mut days = 0u32;
    let mut left_today = 0u64;
    for &size in sizes_newest_first {
        if size > budget.bytes_per_day {
            continue;
        }
        if days == 0 || size > left_today {
            days += 1;
            left_today = budget.bytes_per_day;
        }
        left_today -= size;
    }
    days
}

/// Plan-time estimate from a total alone (an inventory gives per-account bytes, not sizes): at
/// least this many days; [`days_needed`] is exact when the sizes are known.
pub fn days_for_bytes(total_bytes: u64, budget: &DailyBudget) -> u32 {
    if budget.bytes_per_day == 0 {
        return u32::MAX;
    }
    total_bytes
        .div_ceil(budget.bytes_per_day)
        .min(u64::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap() + Duration::hours(h)
    }

    #[test]
    fn the_window_rolls_and_frees_the_oldest_uploads_first() {
        let b = DailyBudget { bytes_per_day: 100 };
        let uploads = vec![(t(0), 60), (t(5), 30)];
        assert_eq!(b.remaining(&uploads, t(6)), 10);
        assert_eq!(b.fits_at(&uploads, t(6), 10), Some(t(6)));
        // 40 more fit once the first 60 leave the window, at t(24).
        assert_eq!(b.fits_at(&uploads, t(6), 40), Some(t(24)));
        // 95 fit once both are gone.
        assert_eq!(b.fits_at(&uploads, t(6), 95), Some(t(29)));
        assert_eq!(b.fits_at(&uploads, t(6), 101), None);
        assert_eq!(b.remaining(&uploads, t(24)), 70);
        assert_eq!(b.remaining(&uploads, t(30)), 100);
    }

    #[test]
    fn days_follow_the_engine_s_greedy_newest_first_fill() {
        let b = DailyBudget { bytes_per_day: 100 };
        assert_eq!(days_needed(&[], &b), 0);
        assert_eq!(days_needed(&[50, 50], &b), 1);
        // 50 + 60 does not fit: the second day starts with 60, then 40 fits, then 10 does not.
        assert_eq!(days_needed(&[50, 60, 40, 10], &b), 3);
        // Larger than the budget: never sent, no day.
        assert_eq!(days_needed(&[500, 10], &b), 1);
        assert_eq!(
            days_for_bytes(5_000_000_000, &DailyBudget::GOOGLE_WORKSPACE),
            10
        );
        assert_eq!(
            days_for_bytes(5_000_000_001, &DailyBudget::GOOGLE_WORKSPACE),
            11
        );
    }
}
