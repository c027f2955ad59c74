//! `cairn account create --server URL`: a new account-key account. The key
//! is printed once, on the last line, so scripts can take it with `tail -1`.

use anyhow::Context;
use cairn_client::ServiceClient;
use clap::Subcommand;

use super::signed_in::runtime;

#[derive(Subcommand)]
pub enum AccountCommand {
    /// Create an account on a sync service; prints its account key last.
    Create {
        /// The sync service, e.g. http://127.0.0.1:8080.
        #[arg(long, value_name = "URL")]
        server: String,
    },
}

pub fn run(command: AccountCommand) -> anyhow::Result<()> {
    match command {
        AccountCommand::Create { server } => create(&server),
    }
}

fn create(server: &str) -> anyhow::Result<()> {
    let client = ServiceClient::new(server)?;
    let created = runtime()?
        .block_on(client.create_account())
        .with_context(|| format!("creating an account on {server}"))?;
    println!("created account {}", created.user_id);
    println!(
        "keep this account key safe: it is shown only once, and it is the only way to sign in"
    );
    println!("{}", created.account_key);
    Ok(())
}
