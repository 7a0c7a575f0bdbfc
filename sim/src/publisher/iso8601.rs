//! The ISO 8601 timestamps of `start` and `end` (`DXCR/p39`: ISO 8601 only, RFC 1123 not
//! supported, an omitted time of day is 00:00:00).
//!
//! Only the forms the document shows are read: `YYYY-MM-DD`, then optionally `THH:MM` or
//! `THH:MM:SS`, then optionally `Z` (UTC is assumed either way). The calendar arithmetic is
//! the `time` crate's; the few lines of splitting are ours because the full ISO 8601 parser
//! of `time` accepts forms (week dates, ordinal dates) the document never mentions.

use time::{Date, Month, PrimitiveDateTime, Time};

/// Milliseconds since the Unix epoch, or why the text is not such a timestamp.
pub fn parse_ms(text: &str) -> Result<u64, String> {
    let bad = || format!("`{text}` is not an ISO 8601 timestamp (YYYY-MM-DD[THH:MM[:SS]][Z])");
    let body = text.strip_suffix('Z').unwrap_or(text);
    let (date, clock) = match body.split_once('T') {
        Some((d, c)) => (d, Some(c)),
        None => (body, None),
    };
    let number = |s: &str, len: usize| -> Result<u32, String> {
        if s.len() != len || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse().map_err(|_| bad())
    };
    let mut d = date.split('-');
    let (Some(y), Some(m), Some(day), None) = (d.next(), d.next(), d.next(), d.next()) else {
        return Err(bad());
    };
    let year = i32::try_from(number(y, 4)?).map_err(|_| bad())?;
    let month =
        Month::try_from(u8::try_from(number(m, 2)?).map_err(|_| bad())?).map_err(|_| bad())?;
    let day = u8::try_from(number(day, 2)?).map_err(|_| bad())?;
    let date = Date::from_calendar_date(year, month, day).map_err(|_| bad())?;
    let clock = match clock {
        None => Time::MIDNIGHT,
        Some(c) => {
            let parts: Vec<&str> = c.split(':').collect();
            let (h, mi, s) = match parts.as_slice() {
                [h, mi] => (number(h, 2)?, number(mi, 2)?, 0),
                [h, mi, s] => (number(h, 2)?, number(mi, 2)?, number(s, 2)?),
                _ => return Err(bad()),
            };
            let small = |v: u32| u8::try_from(v).map_err(|_| bad());
            Time::from_hms(small(h)?, small(mi)?, small(s)?).map_err(|_| bad())?
        }
    };
    let seconds = PrimitiveDateTime::new(date, clock)
        .assume_utc()
        .unix_timestamp();
    u64::try_from(seconds)
        .map(|s| s * 1000)
        .map_err(|_| format!("`{text}` is before 1970"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_without_a_time_mean_midnight() {
        assert_eq!(parse_ms("1970-01-02"), Ok(86_400_000));
        assert_eq!(parse_ms("1970-01-02T00:00:00Z"), Ok(86_400_000));
        assert_eq!(parse_ms("1970-01-01T01:01"), Ok(3_660_000));
    }

    #[test]
    fn other_forms_are_refused() {
        for text in [
            "",
            "Tue, 01 Dec 2026 00:00:00 GMT",
            "2026-13-01",
            "2026-02-30",
            "2026-1-01",
            "2026-01-01T25:00",
            "2026-01-01T10",
            "1969-12-31",
        ] {
            assert!(parse_ms(text).is_err(), "{text}");
        }
    }
}
