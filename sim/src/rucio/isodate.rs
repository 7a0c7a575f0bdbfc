//! The date formats the replicas API reads: `expires_at` (Python's
//! `'%Y-%m-%dT%H:%M:%S.%f'`) and Rucio's `DATE_FORMAT` of JSON bodies. Hand-written: two fixed formats do not justify a date
//! crate, and the calendar arithmetic is the standard days-from-civil conversion.

use std::time::{Duration, SystemTime};

/// Parses `YYYY-MM-DDTHH:MM:SS.ffffff` (1 to 6 fraction digits) as UTC.
pub fn parse(text: &str) -> Option<SystemTime> {
    let (date, time) = text.split_once('T')?;
    let mut d = date.split('-');
    let (y, m, day) = (d.next()?, d.next()?, d.next()?);
    if d.next().is_some() || y.len() != 4 || m.len() > 2 || day.len() > 2 {
        return None;
    }
    let (clock, fraction) = time.split_once('.')?;
    let mut c = clock.split(':');
    let (h, mi, s) = (c.next()?, c.next()?, c.next()?);
    if c.next().is_some() || fraction.is_empty() || fraction.len() > 6 {
        return None;
    }
    let num = |t: &str| -> Option<i64> {
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse().ok())?
    };
    let (y, m, day, h, mi, s) = (num(y)?, num(m)?, num(day)?, num(h)?, num(mi)?, num(s)?);
    let micros = num(fraction)? * 10_i64.pow(6 - fraction.len() as u32);
    if !(1..=12).contains(&m) || day < 1 || day > days_in_month(y, m) || h > 23 || mi > 59 || s > 61
    {
        return None;
    }
    let secs = days_from_civil(y, m, day) * 86_400 + h * 3600 + mi * 60 + s;
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros as u64))
}

/// Formats a time in the same format (what a client sends).
pub fn format(t: SystemTime) -> String {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_micros()
    )
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// Parses Rucio's `DATE_FORMAT` (`%a, %d %b %Y %H:%M:%S UTC`), the form the server's JSON
/// decoder (`common/utils.py datetime_parser`) turns into a date wherever a string value
/// ends in ` UTC` (a replica's `tombstone` on add). The weekday name must be one, not the
/// right one, as with `strptime`.
pub fn parse_rucio_date(text: &str) -> Option<SystemTime> {
    let rest = text.strip_suffix(" UTC")?;
    let (weekday, rest) = rest.split_once(", ")?;
    if !WEEKDAYS.contains(&weekday) {
        return None;
    }
    let mut parts = rest.split(' ');
    let (day, month, year, clock) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || year.len() != 4 {
        return None;
    }
    let m = MONTHS.iter().position(|n| *n == month)? as i64 + 1;
    let num = |t: &str| -> Option<i64> {
        (!t.is_empty() && t.len() <= 4 && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())?
    };
    let mut c = clock.split(':');
    let (h, mi, s) = (num(c.next()?)?, num(c.next()?)?, num(c.next()?)?);
    let (y, d) = (num(year)?, num(day)?);
    if c.next().is_some() || d < 1 || d > days_in_month(y, m) || h > 23 || mi > 59 || s > 61 {
        return None;
    }
    let secs = u64::try_from(days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + s).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Formats a time as Rucio's `DATE_FORMAT` (whole seconds).
pub fn format_rucio_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let rem = secs.rem_euclid(86_400);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} UTC",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        let t = parse("2000-01-01T00:00:00.000000").expect("valid");
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .ok(),
            Some(946_684_800)
        );
        assert_eq!(format(t), "2000-01-01T00:00:00.000000");
        let u = parse("2024-02-29T13:14:15.5").expect("valid");
        assert_eq!(format(u), "2024-02-29T13:14:15.500000");
        for bad in [
            "tomorrow",
            "2024-02-30T00:00:00.0",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.1234567",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn rucio_date_format_round_trips() {
        let t = parse_rucio_date("Wed, 02 Dec 2026 06:00:00 UTC").expect("valid");
        assert_eq!(format(t), "2026-12-02T06:00:00.000000");
        assert_eq!(format_rucio_date(t), "Wed, 02 Dec 2026 06:00:00 UTC");
        assert_eq!(
            format_rucio_date(SystemTime::UNIX_EPOCH),
            "Thu, 01 Jan 1970 00:00:00 UTC"
        );
        for bad in [
            "Wed, 02 Dec 2026 06:00:00",
            "Xyz, 02 Dec 2026 06:00:00 UTC",
            "Wed, 31 Feb 2026 06:00:00 UTC",
            "Wed, 02 Dec 2026 25:00:00 UTC",
        ] {
            assert_eq!(parse_rucio_date(bad), None, "{bad}");
        }
    }
}
