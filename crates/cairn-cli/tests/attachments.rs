//! Attachments through the real `cairn` binary: attach, list, get back the
//! exact bytes; the same file twice stored once; a file over the limit
//! refused in words with nothing written.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use common::{cairn, last_line, ok, stderr};

fn bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn files_under(dir: &std::path::Path) -> usize {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .count()
}

#[test]
fn attach_list_and_get_back_identical_bytes() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let note = last_line(&ok(data.path(), &["new", "Trip\nreceipts below"]));
    let png = work.path().join("receipt.png");
    let original = bytes(9 * 1024 * 1024 + 17);
    std::fs::write(&png, &original).unwrap();
    let out = ok(data.path(), &["attach", &note, png.to_str().unwrap()]);
    let id = last_line(&out);
    assert_eq!(id.len(), 36, "an attachment id on the last line: {out}");

    let body = ok(data.path(), &["show", &note]);
    assert!(
        body.contains(&format!("![receipt.png](attachment:{id})")),
        "{body}"
    );

    let listed: serde_json::Value =
        serde_json::from_str(&ok(data.path(), &["attachments", &note, "--json"])).unwrap();
    let row = &listed.as_array().unwrap()[0];
    assert_eq!(row["id"], id.as_str());
    assert_eq!(row["name"], "receipt.png");
    assert_eq!(row["size"], original.len() as u64);
    assert_eq!(row["media_type"], "image/png");
    assert_eq!(row["local"], true);
    let all: serde_json::Value =
        serde_json::from_str(&ok(data.path(), &["attachments", "--json"])).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 1);

    let back = work.path().join("copy.png");
    ok(
        data.path(),
        &["attachment", "get", &id, back.to_str().unwrap()],
    );
    assert_eq!(std::fs::read(&back).unwrap(), original);

    // The same file again, on another note: a second record, no new chunks.
    let chunks_before = files_under(&data.path().join("blobs"));
    assert_eq!(chunks_before, 3, "9 MiB in 4 MiB chunks");
    let other = last_line(&ok(data.path(), &["new", "Second"]));
    let id2 = last_line(&ok(data.path(), &["attach", &other, png.to_str().unwrap()]));
    assert_ne!(id, id2);
    assert_eq!(files_under(&data.path().join("blobs")), chunks_before);
}

#[test]
fn a_file_over_the_limit_or_an_unknown_id_fails_in_words() {
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let note = last_line(&ok(data.path(), &["new", "n"]));
    let big = work.path().join("big.pdf");
    std::fs::write(&big, bytes(2000)).unwrap();
    let out = common::cairn_env(
        data.path(),
        &["attach", &note, big.to_str().unwrap()],
        &[("CAIRN_MAX_ATTACHMENT_BYTES", "1000")],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("larger than the limit") && err.contains("nothing was stored"),
        "{err}"
    );
    assert!(!data.path().join("blobs").exists());
    assert_eq!(ok(data.path(), &["attachments", "--json"]).trim(), "[]");

    let out = cairn(
        data.path(),
        &[
            "attachment",
            "get",
            "6f9619ff-8b86-4011-b42d-00c04fc964ff",
            "/tmp/never",
        ],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no attachment with id"),
        "{}",
        stderr(&out)
    );
}

fn write(root: &std::path::Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

/// (name, bytes) of every attachment of a store, sorted, read back
/// through `cairn attachment get`.
fn attachment_bytes(data: &std::path::Path, work: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let listed: serde_json::Value =
        serde_json::from_str(&ok(data, &["attachments", "--json"])).unwrap();
    let mut out: Vec<(String, Vec<u8>)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let id = a["id"].as_str().unwrap();
            let path = work.join(id);
            ok(data, &["attachment", "get", id, path.to_str().unwrap()]);
            (
                a["name"].as_str().unwrap().to_owned(),
                std::fs::read(path).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn import_brings_in_referenced_files_and_export_writes_them_with_working_links() {
    let vault = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let (beach, map, receipt) = (bytes(5000), bytes(70_000), b"%PDF-1.4 receipt".to_vec());
    write(
        vault.path(),
        "Trip/Notes.md",
        b"# Trip\n\n![[beach.png|300]]\n\n![map](../maps/city%20map.jpg)\n\nPaid: [the receipt](receipt.pdf)\n",
    );
    write(vault.path(), "images/beach.png", &beach);
    write(vault.path(), "maps/city map.jpg", &map);
    write(vault.path(), "Trip/receipt.pdf", &receipt);
    write(vault.path(), "unused.bin", b"nobody refers to me");

    let data = work.path().join("store");
    let out = ok(&data, &["import", vault.path().to_str().unwrap()]);
    assert!(out.contains("with 0 links and 3 attachments"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("unused.bin: ") && l.contains("no note refers to it")),
        "{out}"
    );
    let want = vec![
        ("beach.png".to_owned(), beach.clone()),
        ("city map.jpg".to_owned(), map.clone()),
        ("receipt.pdf".to_owned(), receipt.clone()),
    ];
    assert_eq!(attachment_bytes(&data, work.path()), want);
    let list: serde_json::Value = serde_json::from_str(&ok(&data, &["list", "--json"])).unwrap();
    let note = list[0]["id"].as_str().unwrap().to_owned();
    let body = ok(&data, &["show", &note]);
    assert!(
        !body.contains("![[beach.png") && !body.contains("receipt.pdf)"),
        "{body}"
    );
    assert_eq!(body.matches("](attachment:").count(), 3, "{body}");
    assert!(body.contains("[the receipt](attachment:"), "{body}");
    assert!(body.contains("![beach.png](attachment:"), "{body}");

    // Export: the files beside the notes, linked relatively.
    let exported = work.path().join("export");
    ok(&data, &["export", exported.to_str().unwrap()]);
    let md = std::fs::read_to_string(exported.join("Trip/Trip.md")).unwrap();
    let mut linked = Vec::new();
    for part in md.split("](").skip(1) {
        let dest = part.split(')').next().unwrap();
        assert!(!dest.starts_with("attachment:"), "{md}");
        let decoded = dest.replace("%20", " ");
        let file = exported.join("Trip").join(&decoded);
        assert!(file.is_file(), "{dest} does not lead to a file:\n{md}");
        linked.push(std::fs::read(file).unwrap());
    }
    linked.sort();
    let mut expected = vec![beach.clone(), map.clone(), receipt.clone()];
    expected.sort();
    assert_eq!(linked, expected);

    // And the export imports back to the same attachments.
    let again = work.path().join("again");
    ok(&again, &["import", exported.to_str().unwrap()]);
    assert_eq!(attachment_bytes(&again, work.path()), want);
}
