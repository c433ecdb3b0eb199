//! Calendar arithmetic for what names or reads things by UTC date: the S3 sink's hour
//! folders and OpenSearch's daily indexes (`sinks::s3::layout::UtcHour`), the dead-letter
//! objects' folders, HTTP dates in `Retry-After`. Howard Hinnant's algorithms on the
//! proleptic Gregorian calendar, exact for every `i64` day this crate can meet; no time
//! zones, no leap seconds (Unix time has none).

/// Days since 1970-01-01 of a date (`month` 1 to 12, `day` 1 to 31; an impossible day
/// such as February 30 counts on into the next month).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month 1 to 12, day 1 to 31) of a day since 1970-01-01 (before it
/// too).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_days_and_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(days_from_civil(9999, 12, 31), 2_932_896);
        let edges = [-1, 0, 59, 60, 365, 11_016, 19_884, 2_932_896];
        for days in (-800_000..3_000_000).step_by(997).chain(edges) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }
}
