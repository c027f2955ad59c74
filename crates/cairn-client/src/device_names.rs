//! A new device's name, told apart from the account's others: two devices
//! on machines with one host name both showed as "vm", and a list of two
//! equal names says nothing about which is which.

use cairn_protocol::DeviceName;

/// `wanted`, or `wanted 2`, `wanted 3`, … : the first that none of
/// `taken` already has (compared without regard to case or surrounding
/// space, as a person reading the list would). Falls back to `wanted`
/// when no numbered form fits the name's length limit.
pub fn distinct(wanted: &DeviceName, taken: &[&str]) -> DeviceName {
    let same = |a: &str, b: &str| a.trim().to_lowercase() == b.trim().to_lowercase();
    let free = |name: &str| !taken.iter().any(|t| same(t, name));
    if free(wanted.as_str()) {
        return wanted.clone();
    }
    (2..1000)
        .filter_map(|n| DeviceName::parse(&format!("{} {n}", wanted.as_str().trim())).ok())
        .find(|candidate| free(candidate.as_str()))
        .unwrap_or_else(|| wanted.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> DeviceName {
        DeviceName::parse(s).unwrap()
    }

    #[test]
    fn a_free_name_stays_and_a_taken_one_gets_the_next_number() {
        assert_eq!(distinct(&name("vm"), &["laptop"]).as_str(), "vm");
        assert_eq!(distinct(&name("vm"), &["VM "]).as_str(), "vm 2");
        assert_eq!(
            distinct(&name("vm"), &["vm", "vm 2", "vm 3"]).as_str(),
            "vm 4"
        );
    }

    #[test]
    fn a_name_at_the_length_limit_is_kept_as_it_is() {
        let long = "x".repeat(100); // the longest name a device may have
        let long = name(&long);
        assert_eq!(distinct(&long, &[long.as_str()]), long);
    }
}
