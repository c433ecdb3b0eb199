//! The tags setup puts on what it makes, and how teardown tells its own resources from
//! everyone else's: a resource is *made* by setup for an instance when it carries both
//! [`MANAGED_BY`] = [`MANAGED_BY_VALUE`] and [`INSTANCE`] = the instance id. A stream
//! that existed before and was only associated gets [`ASSOCIATED`] = the instance id,
//! so teardown undoes the association and keeps the stream.

/// Says switchboard made the resource.
pub const MANAGED_BY: &str = "switchboard:managed-by";
/// The value of [`MANAGED_BY`].
pub const MANAGED_BY_VALUE: &str = "switchboard";
/// The Connect instance the resource was made for.
pub const INSTANCE: &str = "switchboard:instance";
/// On a reused stream: setup associated it with this instance (it did not make it).
pub const ASSOCIATED: &str = "switchboard:associated";

/// The tags of a resource made for `instance_id`.
pub fn made_for(instance_id: &str) -> Vec<(String, String)> {
    vec![
        (MANAGED_BY.to_owned(), MANAGED_BY_VALUE.to_owned()),
        (INSTANCE.to_owned(), instance_id.to_owned()),
    ]
}

/// Who a resource belongs to, from its tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Made by setup for this instance: teardown deletes it.
    Made,
    /// Not made by setup for this instance, but setup associated it with the instance:
    /// teardown disassociates it and keeps it.
    AssociatedOnly,
    /// Someone else's: never changed.
    Other,
}

/// Classifies a resource by its tags for `instance_id`.
pub fn owner<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>, instance_id: &str) -> Owner {
    let (mut managed, mut instance, mut associated) = (false, false, false);
    for (k, v) in tags {
        match k {
            MANAGED_BY => managed |= v == MANAGED_BY_VALUE,
            INSTANCE => instance |= v == instance_id,
            ASSOCIATED => associated |= v == instance_id,
            _ => {}
        }
    }
    if managed && instance {
        Owner::Made
    } else if associated {
        Owner::AssociatedOnly
    } else {
        Owner::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_needs_both_tags_for_this_instance() {
        let made = made_for("i-1");
        let pairs = || made.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        assert_eq!(owner(pairs(), "i-1"), Owner::Made);
        assert_eq!(owner(pairs(), "i-2"), Owner::Other);
        assert_eq!(owner([(MANAGED_BY, "switchboard")], "i-1"), Owner::Other);
        assert_eq!(owner([(ASSOCIATED, "i-1")], "i-1"), Owner::AssociatedOnly);
        assert_eq!(owner([("team", "ops")], "i-1"), Owner::Other);
    }
}
