//! What two people compare to know they share with each other and not with
//! someone in the middle.
//!
//! An identity's **fingerprint** is 30 digits in six groups of five, from
//! SHA-512 over a domain string, the account id and both public keys
//! (Signal's scheme: five bytes per group, read as a number modulo
//! 100000). The **safety number** of two identities is both fingerprints,
//! the smaller first, so it reads the same on both sides whoever asks, and
//! either half checks one of the two people.

use sha2::{Digest, Sha512};

use crate::space::identity::PublicIdentity;

const GROUPS: usize = 6;
const GROUP_BYTES: usize = 5;

/// The fingerprint of one identity: `"12345 67890 ..."`, 6 groups.
pub fn fingerprint(id: &PublicIdentity) -> String {
    let mut h = Sha512::new();
    h.update(b"cairn-fingerprint/v1\0");
    h.update(id.account.as_str().as_bytes());
    h.update(b"\0");
    h.update(id.wrap_key);
    h.update(id.sign_key);
    let digest = h.finalize();
    digest
        .chunks_exact(GROUP_BYTES)
        .take(GROUPS)
        .map(|c| {
            let n = c.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            format!("{:05}", n % 100_000)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The safety number of two identities: the same whichever comes first.
pub fn safety_number(a: &PublicIdentity, b: &PublicIdentity) -> String {
    let (fa, fb) = (fingerprint(a), fingerprint(b));
    let (first, second) = if fa <= fb { (fa, fb) } else { (fb, fa) };
    format!("{first} {second}")
}

/// Whether what a person typed is this fingerprint, ignoring spacing.
pub fn matches_fingerprint(id: &PublicIdentity, typed: &str) -> bool {
    let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    let expected: String = fingerprint(id).chars().filter(|c| *c != ' ').collect();
    digits == expected
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::identity::tests::user;
    use crate::space::identity::SharingIdentity;

    #[test]
    fn safety_number_is_order_independent_and_key_dependent() {
        let a = SharingIdentity::generate(user("alice")).public();
        let b = SharingIdentity::generate(user("bob")).public();
        let n = safety_number(&a, &b);
        assert_eq!(n, safety_number(&b, &a));
        let groups: Vec<&str> = n.split(' ').collect();
        assert_eq!(groups.len(), 12);
        assert!(groups
            .iter()
            .all(|g| g.len() == 5 && g.bytes().all(|c| c.is_ascii_digit())));
        assert!(n.contains(&fingerprint(&a)) && n.contains(&fingerprint(&b)));

        // Someone in the middle with another key for bob: another number.
        let mallory_as_bob = PublicIdentity {
            account: user("bob"),
            ..SharingIdentity::generate(user("bob")).public()
        };
        assert_ne!(safety_number(&a, &mallory_as_bob), n);
        // Each key counts on its own.
        let mut wrap_only = b.clone();
        wrap_only.wrap_key = mallory_as_bob.wrap_key;
        assert_ne!(fingerprint(&wrap_only), fingerprint(&b));
        let mut sign_only = b.clone();
        sign_only.sign_key = mallory_as_bob.sign_key;
        assert_ne!(fingerprint(&sign_only), fingerprint(&b));
        // The same keys under another account name: another fingerprint.
        let renamed = PublicIdentity {
            account: user("carol"),
            ..b.clone()
        };
        assert_ne!(fingerprint(&renamed), fingerprint(&b));
    }

    #[test]
    fn a_typed_fingerprint_matches_with_any_spacing() {
        let a = SharingIdentity::generate(user("alice")).public();
        let f = fingerprint(&a);
        assert!(matches_fingerprint(&a, &f));
        assert!(matches_fingerprint(&a, &f.replace(' ', "")));
        assert!(matches_fingerprint(
            &a,
            &format!("  {}\n", f.replace(' ', "  "))
        ));
        let other = SharingIdentity::generate(user("alice")).public();
        assert!(!matches_fingerprint(&other, &f));
        assert!(!matches_fingerprint(&a, &f[..f.len() - 1]));
    }
}
