//! Starts the OAuth2 server from `tests/node` (npm's oauth2-mock-server,
//! standing in for GitHub) on a free loopback port, for as long as the
//! returned handle lives.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct OauthServer {
    pub url: String,
    child: Child,
}

impl OauthServer {
    pub fn start(github_account_id: u64) -> OauthServer {
        // This file is compiled into the scenario tests (tests/) and the
        // service's own tests (crates/cairn-server/); both are under the
        // repository root that holds tests/node.
        let node_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|d| d.join("tests/node"))
            .find(|d| d.is_dir())
            .expect("tests/node above this crate");
        assert!(
            node_dir.join("node_modules/oauth2-mock-server").is_dir(),
            "the OAuth tests need tests/node/node_modules: run `npm ci --prefix tests/node` \
             from the repository root (Node.js 20.19+ is required)"
        );
        let mut child = Command::new("node")
            .arg("oauth-server.mjs")
            .current_dir(&node_dir)
            .env("CAIRN_TEST_GITHUB_ID", github_account_id.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the OAuth tests need `node` (Node.js 20.19+) on PATH");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the server's address");
        let ready: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("oauth-server.mjs printed {line:?}: {e}"));
        let url = ready["url"].as_str().expect("url").to_owned();
        OauthServer { url, child }
    }
}

impl OauthServer {
    /// The service's GitHub provider pointed at this server.
    pub fn github_config(&self) -> cairn_server::config::GithubConfig {
        let base = &self.url;
        cairn_server::config::GithubConfig {
            client_id: "cairn-test".to_owned(),
            client_secret: "cairn-test-secret".to_owned(),
            authorize_url: format!("{base}/authorize"),
            token_url: format!("{base}/token"),
            user_url: format!("{base}/userinfo"),
            scope: String::new(),
        }
    }
}

impl Drop for OauthServer {
    fn drop(&mut self) {
        // Closing stdin asks it to stop; kill in case it does not.
        drop(self.child.stdin.take());
        if self.child.kill().is_err() {
            eprintln!("oauth server already exited");
        }
        if self.child.wait().is_err() {
            eprintln!("could not reap the oauth server");
        }
    }
}
