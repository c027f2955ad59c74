//! A shared notebook's own notebooks, over loopback against the real
//! service and the real S3 server, every device with its own data dir and
//! driven through the real `cairn` binary:
//!
//! - Alice shares "Family" holding "Family/Trips/2026", made before she
//!   shared it, with a note in each; Bob's two devices show the same
//!   notebooks with the same notes in them;
//! - Bob (an editor) renames "Trips" and makes "Family/Recipes" with a
//!   note; Alice's two devices follow;
//! - Alice and Bob move two notebooks into each other at once: all four
//!   devices end with one tree, with no loop;
//! - Carol, a viewer, cannot rename a notebook of it (refused on her
//!   device), and nobody's tree changes;
//! - Alice renames "Family": Bob sees the new name;
//! - none of the names is readable in the bucket or the service's data.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::collections::{HashMap, HashSet};

use cairn_scenarios::cloud::Cloud;
use cairn_scenarios::device::Device;
use cairn_scenarios::stored_bytes::{all_bytes, contains};

/// One person: an account and two signed-in devices.
struct Person {
    laptop: Device,
    phone: Device,
    account: String,
    fingerprint: String,
}

fn person(cloud: &Cloud, name: &str) -> Person {
    let laptop = Device::new(&format!("{name}-laptop"));
    let phone = Device::new(&format!("{name}-phone"));
    let key = cloud.create_account(laptop.dir());
    laptop.login(cloud, &key);
    phone.login(cloud, &key);
    let me: serde_json::Value = serde_json::from_str(&laptop.ok(&["identity", "--json"])).unwrap();
    Person {
        account: me["account"].as_str().unwrap().to_owned(),
        fingerprint: me["fingerprint"].as_str().unwrap().to_owned(),
        laptop,
        phone,
    }
}

fn last_line(out: &str) -> String {
    out.trim().lines().last().unwrap().trim().to_owned()
}

/// Shares `notebook` of `owner` with `invitee` as `role`; the invitee
/// accepts on their laptop.
fn share(owner: &Person, invitee: &Person, notebook: &str, role: &str) -> String {
    let id = last_line(&owner.laptop.ok(&[
        "share",
        notebook,
        "--with",
        &invitee.account,
        "--role",
        role,
        "--fingerprint",
        &invitee.fingerprint,
    ]));
    invitee.laptop.ok(&["accept", &id]);
    id
}

/// Syncs everyone until `done` holds, a few passes at most.
fn sync_until(devices: &[&Device], what: &str, done: impl Fn() -> bool) {
    let mut said = String::new();
    for _ in 0..6 {
        if done() {
            return;
        }
        said.clear();
        for d in devices {
            let run = d.sync_ok();
            said.push_str(&run.stdout);
            said.push_str(&run.stderr);
        }
    }
    assert!(
        done(),
        "{what}: not reached after six passes of sync:\n{said}"
    );
}

/// (id, path, parent) of every live notebook at or below `root` on `d`;
/// the shared notebook's own place is each member's, so it is left out.
fn inside(d: &Device, root: &str) -> Vec<(String, String, Option<String>)> {
    let all = d.store().notebooks().unwrap();
    let by: HashMap<&str, Option<&str>> = all
        .iter()
        .map(|n| (n.id.as_str(), n.parent.as_deref()))
        .collect();
    let under = |id: &str| {
        let mut seen = HashSet::new();
        let mut at = Some(id);
        while let Some(x) = at {
            if x == root {
                return true;
            }
            assert!(
                seen.insert(x),
                "a loop through {x} on {}",
                d.dir().display()
            );
            at = by.get(x).copied().flatten();
        }
        false
    };
    let root_path = all
        .iter()
        .find(|n| n.id == root)
        .map(|n| n.path.clone())
        .unwrap_or_default();
    let mut out: Vec<_> = all
        .iter()
        .filter(|n| under(&n.id))
        .map(|n| {
            let rel = n.path.strip_prefix(&root_path).unwrap_or(&n.path);
            let parent = n.parent.clone().filter(|_| n.id != root);
            (n.id.clone(), rel.to_owned(), parent)
        })
        .collect();
    out.sort();
    out
}

/// Where note `id` is on `d` (its notebook's path), if anywhere.
fn place(d: &Device, id: &str) -> Option<String> {
    let store = d.store();
    let nb = store.places(&[id.to_owned()]).unwrap().remove(0).1?;
    Some(store.notebook(&nb).ok()?.path)
}

fn path_is(d: &Device, id: &str, want: &str) -> bool {
    d.store().notebook(id).map(|n| n.path).ok().as_deref() == Some(want)
}

#[test]
fn a_shared_notebooks_notebooks_renames_and_moves_reach_every_member() {
    let cloud = Cloud::start();
    let alice = person(&cloud, "alice");
    let bob = person(&cloud, "bob");
    let carol = person(&cloud, "carol");
    let a = &alice.laptop;
    let family = last_line(&a.ok(&["notebook", "create", "Family"]));
    let trips = last_line(&a.ok(&["notebook", "create", "Trips", "--parent", "Family"]));
    let y2026 = last_line(&a.ok(&["notebook", "create", "2026", "--parent", "Family/Trips"]));
    let n_family = last_line(&a.ok(&["new", "--notebook", "Family", "Grandma's birthday"]));
    let n_trips = last_line(&a.ok(&["new", "--notebook", "Family/Trips", "Packing list"]));
    let n_2026 = last_line(&a.ok(&["new", "--notebook", "Family/Trips/2026", "Lisbon flights"]));
    share(&alice, &bob, "Family", "editor");
    share(&alice, &carol, "Family", "viewer");
    // Shared, the notebook has its space's id; the notebooks in it keep
    // theirs.
    let root = a.store().find_notebook("Family").unwrap();
    assert_ne!(root, family);
    assert!(path_is(a, &y2026, "Family/Trips/2026"));
    assert!(path_is(a, &trips, "Family/Trips"));

    let everyone = [
        &alice.laptop,
        &alice.phone,
        &bob.laptop,
        &bob.phone,
        &carol.laptop,
    ];
    sync_until(&everyone, "the notebooks reach Bob's devices", || {
        [&bob.laptop, &bob.phone, &alice.phone].iter().all(|d| {
            path_is(d, &y2026, "Family/Trips/2026")
                && place(d, &n_family).as_deref() == Some("Family")
                && place(d, &n_trips).as_deref() == Some("Family/Trips")
                && place(d, &n_2026).as_deref() == Some("Family/Trips/2026")
        })
    });
    assert_eq!(inside(&bob.phone, &root), inside(a, &root));

    // Bob renames Trips and makes Family/Recipes with a note.
    bob.laptop
        .ok(&["notebook", "rename", "Family/Trips", "Journeys"]);
    let recipes = last_line(
        &bob.laptop
            .ok(&["notebook", "create", "Recipes", "--parent", "Family"]),
    );
    let n_soup = last_line(
        &bob.laptop
            .ok(&["new", "--notebook", "Family/Recipes", "Minestrone"]),
    );
    sync_until(&everyone, "Bob's changes reach Alice's devices", || {
        [&alice.laptop, &alice.phone, &bob.phone].iter().all(|d| {
            path_is(d, &y2026, "Family/Journeys/2026")
                && path_is(d, &recipes, "Family/Recipes")
                && place(d, &n_soup).as_deref() == Some("Family/Recipes")
        })
    });

    // Concurrent moves that loop once merged: Alice puts Recipes under
    // Journeys on her laptop while Bob puts Journeys under Recipes on
    // his phone; neither has seen the other's.
    alice.laptop.ok(&[
        "notebook",
        "move",
        "Family/Recipes",
        "--parent",
        "Family/Journeys",
    ]);
    bob.phone.ok(&[
        "notebook",
        "move",
        "Family/Journeys",
        "--parent",
        "Family/Recipes",
    ]);
    let four = [&alice.laptop, &alice.phone, &bob.laptop, &bob.phone];
    sync_until(&everyone, "one tree with no loop on all four", || {
        let want = inside(&alice.laptop, &root);
        four.iter().all(|d| inside(d, &root) == want)
    });
    let tree = inside(&alice.laptop, &root);
    assert!(tree.iter().any(|(id, _, _)| *id == recipes));
    assert!(tree.iter().any(|(id, _, _)| *id == trips));

    // Carol, a viewer, cannot rename a notebook of the shared one: her
    // device refuses, and nothing of hers reaches anyone.
    let journeys_path = carol
        .laptop
        .store()
        .notebook(&trips)
        .map(|n| n.path)
        .unwrap();
    let refused = carol
        .laptop
        .run(&["notebook", "rename", &journeys_path, "Carol's"]);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("can read this shared notebook"), "{said}");
    sync_all(&everyone);
    for d in everyone {
        let all = d.store().notebooks().unwrap();
        assert!(
            all.iter().all(|n| n.name != "Carol's"),
            "{}",
            d.dir().display()
        );
    }

    // Alice renames the shared notebook: Bob sees the new name.
    alice
        .laptop
        .ok(&["notebook", "rename", "Family", "Family 2026"]);
    sync_until(&everyone, "the new name reaches Bob", || {
        [&bob.laptop, &bob.phone, &carol.laptop, &alice.phone]
            .iter()
            .all(|d| {
                d.store().notebook(&root).map(|n| n.name).ok().as_deref() == Some("Family 2026")
            })
    });

    // No notebook name is readable in the bucket or the service's data.
    let stored: Vec<(String, Vec<u8>)> = cloud
        .stored_dirs()
        .iter()
        .flat_map(|d| all_bytes(d))
        .collect();
    assert!(
        stored.iter().any(|(p, _)| p.contains("/spaces/")),
        "space objects were stored"
    );
    for (path, bytes) in stored {
        for needle in ["Journeys", "Recipes", "Minestrone", "Family 2026"] {
            assert!(!contains(&bytes, needle), "{needle:?} readable in {path}");
        }
    }
}

fn sync_all(devices: &[&Device]) {
    for d in devices {
        d.sync_ok();
    }
}
