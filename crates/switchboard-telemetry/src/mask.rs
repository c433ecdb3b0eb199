//! Masking of customer phone numbers, for the API and the dashboard when the server is
//! started with masking on, and for sinks that must not store them in clear.
//!
//! A masked number keeps its shape and its last four digits, which is what a supervisor
//! needs to tell two callers apart on the phone, and nothing more: `+14155550123`
//! becomes `+*******0123`. Numbers of four digits or fewer are masked whole.

use switchboard_model::ContactRecord;

/// How many trailing digits stay visible.
pub const VISIBLE_DIGITS: usize = 4;

/// Masks every digit of `number` but the last [`VISIBLE_DIGITS`] (all of them if it has
/// no more than that); other characters (`+`, spaces, dashes) are kept.
pub fn mask_phone(number: &str) -> String {
    let digits = number.chars().filter(char::is_ascii_digit).count();
    let keep = if digits > VISIBLE_DIGITS {
        VISIBLE_DIGITS
    } else {
        0
    };
    let mut seen = 0;
    number
        .chars()
        .map(|c| {
            if !c.is_ascii_digit() {
                return c;
            }
            seen += 1;
            if seen > digits - keep {
                c
            } else {
                '*'
            }
        })
        .collect()
}

/// Masks the customer's address in a contact record (`CustomerEndpoint.Address`).
/// The system endpoint (the center's own number) is left as it is.
pub fn mask_record(record: &mut ContactRecord) {
    if let Some(address) = record
        .customer_endpoint
        .as_mut()
        .and_then(|e| e.address.as_mut())
    {
        *address = mask_phone(address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_shape_and_last_four_digits() {
        assert_eq!(mask_phone("+14155550123"), "+*******0123");
        assert_eq!(mask_phone("+1 415-555-0123"), "+* ***-***-0123");
        assert_eq!(mask_phone("0123"), "****");
        assert_eq!(mask_phone(""), "");
        assert_eq!(mask_phone("anonymous"), "anonymous");
    }

    #[test]
    fn masks_only_the_customer_endpoint() {
        let mut r: ContactRecord = serde_json::from_value(serde_json::json!({
            "ContactId": "c-1",
            "Channel": "VOICE",
            "InitiationMethod": "INBOUND",
            "InitiationTimestamp": "2026-01-05T09:00:00Z",
            "LastUpdateTimestamp": "2026-01-05T09:05:00Z",
            "CustomerEndpoint": {"Address": "+14155550123", "Type": "TELEPHONE_NUMBER"},
            "SystemEndpoint": {"Address": "+18005550199", "Type": "TELEPHONE_NUMBER"}
        }))
        .unwrap();
        mask_record(&mut r);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["CustomerEndpoint"]["Address"], "+*******0123");
        assert_eq!(v["SystemEndpoint"]["Address"], "+18005550199");
    }
}
