//! `cairn login` and `cairn logout`.
//!
//! Login signs in (account key, or GitHub through the browser and a
//! loopback redirect), makes sure the session acts for a device (resuming
//! the one this data dir used before on the same service, else registering
//! a new one), and stores the session in the data dir's credential store.
//! Logout revokes the session on the service and forgets it locally; it
//! forgets it even when the service cannot be reached.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use cairn_client::{sign_in, ClientError, ServiceClient};
use cairn_protocol::DeviceName;
use clap::Args;

use super::signed_in::{credential_store, runtime, stored_session};

/// How long to wait for the browser to come back.
const GITHUB_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Args)]
pub struct LoginArgs {
    /// The sync service, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    server: String,
    /// Sign in with an account key (from `cairn account create`).
    #[arg(
        long,
        env = "CAIRN_ACCOUNT_KEY",
        hide_env_values = true,
        value_name = "KEY",
        required_unless_present = "github",
        conflicts_with = "github"
    )]
    account_key: Option<String>,
    /// Sign in with GitHub in the browser.
    #[arg(long)]
    github: bool,
    /// This device's name as other devices see it (default: the host name).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
}

pub fn login(data_dir: &Path, args: LoginArgs) -> anyhow::Result<()> {
    let client = ServiceClient::new(&args.server)?;
    let store = credential_store(data_dir);
    let name = DeviceName::parse(
        &args
            .name
            .clone()
            .unwrap_or_else(cairn_client::sign_in::default_device_name),
    )
    .context("device name")?;
    let secret = super::key::login_secret()?;

    // Either way, the shared steps (`cairn_client::sign_in`): resume this
    // data dir's device when it can, register one when not, set up the
    // content key, and only then save the session, so a wrong passphrase
    // leaves this device as it was.
    let signed_in = runtime()?.block_on(async {
        match &args.account_key {
            Some(key) => sign_in::sign_in_with_account_key(
                &client,
                key,
                &name,
                data_dir,
                secret.as_deref(),
                store.as_ref(),
            )
            .await
            .context("signing in with the account key"),
            None => {
                // A device that is gone is dropped by the service itself,
                // since the login code cannot be asked for twice.
                let resume = sign_in::resumable_device(store.as_ref(), &args.server);
                let session = client
                    .sign_in_with_github(resume.as_ref(), GITHUB_TIMEOUT, open_browser)
                    .await
                    .context("signing in with GitHub")?;
                sign_in::finish_sign_in(
                    &client,
                    session,
                    &name,
                    data_dir,
                    secret.as_deref(),
                    store.as_ref(),
                )
                .await
                .context("finishing the sign-in")
            }
        }
    })?;
    println!(
        "signed in to {} as {}",
        args.server, signed_in.credentials.user_id
    );
    println!("this device: {}", signed_in.device_id);
    println!("session stored in {}", store.describe());
    super::key::report(&signed_in.key_setup);
    Ok(())
}

/// Shows the sign-in URL and tries the desktop's opener; the URL alone is
/// enough when there is none (over SSH, say).
fn open_browser(url: &str) -> Result<(), ClientError> {
    eprintln!("Open this page to sign in with GitHub:\n  {url}");
    if let Err(e) = cairn_client::browser::open(url) {
        eprintln!("({e}; open the page by hand)");
    }
    Ok(())
}

pub fn logout(data_dir: &Path) -> anyhow::Result<()> {
    let Some(session) = stored_session(data_dir)? else {
        println!("not signed in");
        return Ok(());
    };
    // The one sign-out the desktop app takes too: revoke when the service
    // answers, forget the session, the content key and the grant anyway.
    let signed_out = runtime()?.block_on(session.sign_out(data_dir))?;
    match signed_out.revoked {
        Ok(()) => println!("signed out of {}", signed_out.server_url),
        Err(e) => eprintln!("signed out locally; the service could not revoke the session: {e}"),
    }
    Ok(())
}
