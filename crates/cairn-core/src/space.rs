//! Shared spaces: the keys, identities and signed membership that let
//! several people share a notebook while the service sees no word of it
//! (docs/sharing.md walks through the design).
//!
//! - [`identity`]: a user's sharing identity (X25519 for key wraps,
//!   Ed25519 for signatures), sealed under their content key.
//! - [`safety_number`]: fingerprints and the safety number of two
//!   identities, for people to compare.
//! - [`pins`]: the identity first seen for an account, and a loud error
//!   when it changes.
//! - [`successor`]: a previous identity vouching for the one that
//!   replaces it (a device was removed).
//! - [`epoch`]: space ids, epoch numbers and epoch keys.
//! - [`wrap`]: an epoch key wrapped to one member (HPKE) and signed.
//! - [`record`]: the signed, hash-chained membership records and their
//!   canonical bytes.
//! - [`chain`]: replaying and verifying a space's records.
//! - [`object_ad`]: the sealing of a space's objects (envelope version 2).
//! - [`rotation`]: the records that remove a member and start a new epoch.
//! - [`author`]: the other records a member signs (create, invite, answer,
//!   leave).
//! - [`label`]: the shared notebook's name, sealed for invitees.
//! - [`stored_pins`]: the pins kept in the device's store.
//! - [`local`]: the spaces this device knows, kept in its store.
//! - [`tree`]: the shared notebook's own tree (its notebooks and name),
//!   a document of the space; [`tree_store`] keeps it in the store.
//!
//! Nothing here does network IO: the callers fetch the bytes; what the
//! device keeps goes into its store ([`stored_pins`]).

pub mod author;
pub mod blob_index;
pub mod blob_keys;
pub mod blob_seal;
pub mod blob_store;
pub mod chain;
pub mod epoch;
pub mod identity;
pub mod label;
pub mod local;
pub mod object_ad;
pub mod pending;
pub mod pins;
pub mod record;
pub mod rotation;
pub mod safety_number;
pub mod stored_pins;
pub mod successor;
pub mod tree;
pub mod tree_store;
#[cfg(test)]
mod tree_sync_tests;
pub mod wrap;
