//! tauri-build embeds `ui/dist` (tauri.conf.json `frontendDist`) and fails
//! when it is missing. `ui/dist` is a build output and not committed, so on a
//! fresh checkout where the UI has not been built yet we put a page there
//! that says how to build it: `cargo build` and `cargo clippy` keep working
//! for people who never touch the UI.

use std::path::Path;

const PLACEHOLDER: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cairn</title></head>
<body style="font-family: sans-serif; padding: 2em">
<h1>Cairn's UI is not built</h1>
<p>Run <code>npm ci --prefix ui &amp;&amp; npm run --prefix ui build</code>, then rebuild the app.</p>
</body></html>
"#;

fn main() {
    let index = Path::new("ui/dist/index.html");
    if !index.exists() {
        let written =
            std::fs::create_dir_all("ui/dist").and_then(|()| std::fs::write(index, PLACEHOLDER));
        if let Err(e) = written {
            println!("cargo:warning=could not write a placeholder ui/dist/index.html: {e}");
        }
    }
    println!("cargo:rerun-if-changed=ui/dist");
    tauri_build::build()
}
