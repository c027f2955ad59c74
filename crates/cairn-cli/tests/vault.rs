//! `cairn import` of a vault-like folder tree, `cairn export` of it, the
//! export imported again and compared, and the notebook and link commands,
//! all through the real binary.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{cairn, last_line, ok, stderr};
use serde_json::Value;

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn json(data: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(data, args)).unwrap()
}

/// A small vault with what real ones have.
fn vault(root: &Path) {
    write(root, ".obsidian/app.json", b"{\"theme\": \"dark\"}");
    write(root, ".obsidian/plugins/x/main.js", b"code");
    write(
        root,
        "Work/Projects/Plan.md",
        "---\ntags:\n  - work\n  - \"#q3\"\naliases:\n  - Big plan\ncreated: 2021-03-04T05:06:07.890Z\n\
         updated: 2022-01-02 03:04:05Z\nauthor: Ann\nreview:\n  due: 2022-02-01\n  by: [Bo, Cy]\n---\n\
         The plan, with [[Ideas]], [[Home/Ideas|ideas at home]], [[Ideas#Later|later]] and [[Missing note]].\n"
            .as_bytes(),
    );
    write(
        root,
        "Work/Ideas.md",
        b"# Ideas\n\nWork ideas: see [[Plan#Goals]] and [[Big plan|the big one]].\n",
    );
    write(
        root,
        "Home/Ideas.md",
        b"---\ntags: home, cooking\n---\n# Ideas\n\nFor home. The [work plan](../Work/Projects/Plan.md) and [same folder](Groceries.md).\n",
    );
    write(root, "Home/Groceries.md", b"- milk\n- [[Ideas]]\n");
    write(
        root,
        "Top level.md",
        b"Links to [[Work/Projects/Plan]] and `[[not a link]]`.\n",
    );
    write(root, "Latin1.md", b"caf\xe9 au lait\n");
    write(
        root,
        "Bad yaml.md",
        b"---\ntags: [unclosed\n---\nstill kept\n",
    );
    write(root, "Home/photo.png", b"\x89PNG");
    write(root, "attachments/scan.pdf", b"%PDF");
    std::fs::create_dir_all(root.join("Empty")).unwrap();
}

fn by_title(list: &Value) -> BTreeMap<String, Value> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|n| (n["title"].as_str().unwrap().to_string(), n.clone()))
        .collect()
}

#[test]
fn importing_a_vault_keeps_its_structure_and_says_what_it_left_out() {
    let src = tempfile::tempdir().unwrap();
    vault(src.path());
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("store");
    let dir = src.path().to_str().unwrap();

    // A dry run reports and writes nothing.
    let dry = ok(&data, &["import", "--dry-run", dir]);
    assert!(
        dry.contains("would import 6 notes into 4 notebooks"),
        "{dry}"
    );
    assert!(!data.join("cairn.db").exists(), "a dry run made a store");

    let out = ok(&data, &["import", dir]);
    assert!(out.contains("imported 6 notes into 4 notebooks"), "{out}");
    for (path, why) in [
        (".obsidian", "Obsidian's settings"),
        ("Latin1.md", "not valid UTF-8"),
        ("Home/photo.png", "not a Markdown file"),
        ("attachments/scan.pdf", "not a Markdown file"),
        ("attachments", "holds no Markdown notes"),
    ] {
        assert!(
            out.lines()
                .any(|l| l.contains(&format!("{path}: ")) && l.contains(why)),
            "{path} not reported as {why:?}:\n{out}"
        );
    }
    assert!(
        !out.contains("app.json"),
        "inside .obsidian is not listed file by file"
    );
    assert!(
        out.contains("Bad yaml.md: front matter is not valid YAML"),
        "{out}"
    );
    assert!(out.contains("not imported: author, review"), "{out}");
    assert!(out.contains("Missing note"), "{out}");

    // Notebooks: every folder with notes, and the empty one.
    let nbs = json(&data, &["notebook", "list", "--json"]);
    let paths: BTreeMap<String, u64> = nbs
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["path"].as_str().unwrap().to_string(),
                n["notes"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: BTreeMap<String, u64> =
        [("Empty", 0), ("Home", 2), ("Work", 1), ("Work/Projects", 1)]
            .into_iter()
            .map(|(p, n)| (p.to_string(), n))
            .collect();
    assert_eq!(paths, want, "{nbs}");
    for n in nbs.as_array().unwrap() {
        assert!(n["id"].is_string() && n.get("parent").is_some() && n["name"].is_string());
    }

    // Front matter: tags from a block list and from a string, dates.
    let all = by_title(&json(&data, &["list", "--json"]));
    let plan = &all["Plan"];
    assert_eq!(plan["tags"], serde_json::json!(["q3", "work"]));
    assert_eq!(plan["created_ms"], 1_614_834_367_890i64);
    assert_eq!(plan["modified_ms"], 1_641_092_645_000i64);
    let plan_id = plan["id"].as_str().unwrap();
    let body = ok(&data, &["show", plan_id]);
    assert!(body.starts_with("# Plan\n\nThe plan"), "{body}");

    // Duplicate names: Work/Ideas and Home/Ideas are two notes; links pick
    // the nearest.
    let work = json(&data, &["list", "--notebook", "Work", "--json"]);
    let home = json(&data, &["list", "--notebook", "Home", "--json"]);
    let work_ideas = by_title(&work)["Ideas"]["id"].as_str().unwrap().to_string();
    let home_ideas = by_title(&home)["Ideas"]["id"].as_str().unwrap().to_string();
    let groceries = by_title(&home)["Groceries"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(work_ideas, home_ideas);
    let recursive = json(
        &data,
        &["list", "--notebook", "Work", "--recursive", "--json"],
    );
    assert_eq!(recursive.as_array().unwrap().len(), 2);

    let links = json(&data, &["links", plan_id, "--json"]);
    let targets: Vec<(String, Value)> = links
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["text"].as_str().unwrap().to_string(),
                l["target_id"].clone(),
            )
        })
        .collect();
    assert_eq!(
        targets,
        vec![
            ("Ideas".to_string(), Value::from(work_ideas.clone())),
            ("Home/Ideas".to_string(), Value::from(home_ideas.clone())),
            ("Missing note".to_string(), Value::Null),
        ]
    );
    // Backlinks of Plan: by heading link, by alias, by relative path, by path.
    let back = json(&data, &["backlinks", plan_id, "--json"]);
    let mut back_ids: Vec<String> = back
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    back_ids.sort();
    let top = all["Top level"]["id"].as_str().unwrap().to_string();
    let mut want_back = vec![work_ideas.clone(), home_ideas.clone(), top];
    want_back.sort();
    assert_eq!(back_ids, want_back);
    // Relative link within a folder, and [[Ideas]] from Home meaning Home's.
    let g_back = json(&data, &["backlinks", &groceries, "--json"]);
    assert_eq!(g_back[0]["id"], Value::from(home_ideas.clone()));
    let g_links = json(&data, &["links", &groceries, "--json"]);
    assert_eq!(g_links[0]["target_id"], Value::from(home_ideas.clone()));
    // Code is not links.
    let top_links = json(
        &data,
        &["links", all["Top level"]["id"].as_str().unwrap(), "--json"],
    );
    assert_eq!(top_links.as_array().unwrap().len(), 1);

    // The bad front matter note kept all its text.
    let bad = ok(&data, &["show", all["Bad yaml"]["id"].as_str().unwrap()]);
    assert!(
        bad.contains("tags: [unclosed") && bad.contains("still kept"),
        "{bad}"
    );

    // Importing again reuses the notebooks.
    let again = ok(&data, &["import", dir]);
    assert!(again.contains("(4 of them existing ones)"), "{again}");
    let nbs2 = json(&data, &["notebook", "list", "--json"]);
    assert_eq!(nbs2.as_array().unwrap().len(), 4);
}

/// (notebook path, title) -> (tags, created, modified, pinned), and links
/// as (source title path, target title path).
type Shape = (
    BTreeMap<(String, String), (Value, Value, Value, Value)>,
    Vec<(String, Option<String>)>,
    Vec<String>,
);

fn shape(data: &Path) -> Shape {
    let nbs = json(data, &["notebook", "list", "--json"]);
    let mut notebook_paths: Vec<String> = Vec::new();
    let mut where_is: BTreeMap<String, String> = BTreeMap::new();
    let mut notes = BTreeMap::new();
    let mut lists: Vec<(String, Value)> = Vec::new();
    for n in nbs.as_array().unwrap() {
        let path = n["path"].as_str().unwrap().to_string();
        notebook_paths.push(path.clone());
        lists.push((
            path,
            json(
                data,
                &["list", "--notebook", n["id"].as_str().unwrap(), "--json"],
            ),
        ));
    }
    lists.push((String::new(), json(data, &["list", "--unfiled", "--json"])));
    for (path, list) in &lists {
        for n in list.as_array().unwrap() {
            let title = n["title"].as_str().unwrap().to_string();
            where_is.insert(
                n["id"].as_str().unwrap().to_string(),
                format!("{path}/{title}"),
            );
            notes.insert(
                (path.clone(), title),
                (
                    n["tags"].clone(),
                    n["created_ms"].clone(),
                    n["modified_ms"].clone(),
                    n["pinned"].clone(),
                ),
            );
        }
    }
    let mut links = Vec::new();
    for (id, at) in &where_is {
        for l in json(data, &["links", id, "--json"]).as_array().unwrap() {
            let target = l["target_id"].as_str().map(|t| where_is[t].clone());
            links.push((at.clone(), target));
        }
    }
    // Two texts for one target (`[[Plan#Goals]]`, `[[Big plan|…]]`) are
    // written as one file name on export: the same link, twice.
    links.sort();
    links.dedup();
    (notes, links, notebook_paths)
}

#[test]
fn export_then_import_gives_the_same_notebooks_notes_tags_and_links() {
    let src = tempfile::tempdir().unwrap();
    vault(src.path());
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    ok(&a, &["import", src.path().to_str().unwrap()]);
    // A rename after import: the exported links must follow it.
    let home = json(&a, &["list", "--notebook", "Home", "--json"]);
    let groceries = by_title(&home)["Groceries"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = common::cairn_stdin(
        &a,
        &["edit", &groceries],
        Some(b"Shopping\n- milk\n- [[Ideas]]\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let exp = d.path().join("export");
    let said = ok(&a, &["export", exp.to_str().unwrap()]);
    assert!(said.contains("exported 6 notes in 4 notebooks"), "{said}");
    assert!(exp.join("Empty").is_dir());
    let home_ideas = std::fs::read_to_string(exp.join("Home/Ideas.md")).unwrap();
    assert!(
        home_ideas.contains("[[Home/Shopping|same folder]]")
            || home_ideas.contains("[[Shopping|same folder]]"),
        "{home_ideas}"
    );
    assert!(home_ideas.contains("[[Plan|work plan]]"), "{home_ideas}");
    ok(&b, &["import", exp.to_str().unwrap()]);
    let (sa, sb) = (shape(&a), shape(&b));
    assert_eq!(sa.2, sb.2, "notebooks differ");
    assert_eq!(sa.0, sb.0, "notes differ");
    assert_eq!(sa.1, sb.1, "links differ");
    assert_eq!(sa.1.len(), 8, "{:?}", sa.1);
}

#[test]
fn notebook_commands() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path();
    let work = last_line(&ok(data, &["notebook", "create", "Work"]));
    let proj = last_line(&ok(
        data,
        &["notebook", "create", "Projects", "--parent", "Work"],
    ));
    let home = last_line(&ok(data, &["notebook", "create", "Home"]));
    let n1 = last_line(&ok(
        data,
        &["new", "--notebook", "Work/Projects", "Roadmap\nQ3"],
    ));
    let n2 = last_line(&ok(data, &["new", "Loose note"]));
    ok(data, &["move", &n2, &home]);
    let listed = json(data, &["list", "--notebook", "Home", "--json"]);
    assert_eq!(listed[0]["id"], Value::from(n2.clone()));
    ok(data, &["move", &n2, "--unfiled"]);
    assert_eq!(
        json(data, &["list", "--unfiled", "--json"])[0]["id"],
        Value::from(n2.clone())
    );
    ok(data, &["notebook", "rename", "Work/Projects", "Plans"]);
    ok(
        data,
        &["notebook", "move", "Work/Plans", "--parent", "Home"],
    );
    let nbs = json(data, &["notebook", "list", "--json"]);
    let plans = nbs
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == proj.as_str())
        .unwrap();
    assert_eq!(plans["path"], "Home/Plans");
    assert_eq!(plans["parent"], Value::from(home.clone()));
    assert_eq!(plans["notes"], 1);
    // Into its own descendant: refused with a sentence.
    let out = cairn(
        data,
        &["notebook", "move", "Home", "--parent", "Home/Plans"],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("inside it"), "{}", stderr(&out));
    ok(data, &["notebook", "move", "Home/Plans", "--top"]);
    // Two with one path: the path is refused, the id works.
    last_line(&ok(data, &["notebook", "create", "Plans"]));
    let out = cairn(data, &["list", "--notebook", "Plans"]);
    assert!(
        stderr(&out).contains("more than one notebook"),
        "{}",
        stderr(&out)
    );
    // Delete: the note goes to the trash; restoring brings the notebook back.
    let said = ok(data, &["notebook", "delete", &proj]);
    assert!(said.contains("1 notes moved to the trash"), "{said}");
    assert_eq!(
        json(data, &["list", "--trashed", "--json"])[0]["id"],
        Value::from(n1.clone())
    );
    ok(data, &["restore", &n1]);
    let nbs = json(data, &["notebook", "list", "--json"]);
    assert!(nbs
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["id"] == proj.as_str()));
    assert_eq!(
        json(data, &["list", "--notebook", &proj, "--json"])[0]["id"],
        Value::from(n1.clone())
    );
    // Links and backlinks.
    let src = last_line(&ok(data, &["new", "Index"]));
    let out = common::cairn_stdin(
        data,
        &["edit", &src],
        Some(b"Index\n[[Roadmap]] [[Nothing yet]]"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let links = json(data, &["links", &src, "--json"]);
    assert_eq!(links[0]["target_id"], Value::from(n1.clone()));
    assert_eq!(links[1]["target_id"], Value::Null);
    assert_eq!(links[1]["text"], "Nothing yet");
    let back = json(data, &["backlinks", &n1, "--json"]);
    assert_eq!(back, serde_json::json!([{"id": src, "title": "Index"}]));
    assert!(nbs
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["id"] == work.as_str()));
}
