//! `cairn-server`: run the service from a config file, or everything on
//! loopback for development, or the grant benchmark.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use cairn_server::bench::{bench_grants_dev, BenchOptions};
use cairn_server::{Config, DevServer, RunningServer, SystemClock};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cairn-server", version, about = "The Cairn sync service")]
struct Cli {
    /// How log lines look on stderr: `text`, or `json` (one object per
    /// line, for a log collector).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service with a TOML config (CAIRN_* variables override it).
    Serve {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Bring the registry's schema up to date, then exit (instances also
    /// do it when they start; this is for doing it before a rollout).
    Migrate {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Run the service and an embedded S3 store on loopback, with
    /// account-key sign-in: a working sync setup with no cloud account.
    Dev {
        /// Where the store and the registry live.
        #[arg(long, default_value = "cairn-dev-data")]
        data: PathBuf,
        /// Service address; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Load test: concurrent clients asking for grants, against
    /// in-process services with an embedded store.
    BenchGrants {
        /// A PostgreSQL registry (an empty database) instead of SQLite.
        #[arg(long)]
        registry: Option<String>,
        /// How many services share the registry; clients spread over them.
        #[arg(long, default_value_t = 1)]
        instances: usize,
        #[arg(long, default_value_t = 100)]
        clients: usize,
        #[arg(long, default_value_t = 10_000)]
        requests: usize,
        #[arg(long, default_value_t = 5)]
        devices: usize,
        /// Presign every grant afresh instead of reusing grants within
        /// their issue window: measures presigning rather than the cache.
        #[arg(long)]
        no_grant_cache: bool,
        /// Print the result as one JSON line.
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cairn_server::private_files::restrict_umask();
    let cli = Cli::parse();
    // The benchmark's own requests would fill the log.
    let default_filter = match cli.command {
        Command::BenchGrants { .. } => "warn",
        _ => cairn_server::DEFAULT_LOG_FILTER,
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    // Colours only for a person at a terminal, not in a journal or a file.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    match cli.command {
        Command::Serve { config } => {
            let config =
                Config::load(&config).with_context(|| format!("loading {}", config.display()))?;
            let server = RunningServer::start(config, Arc::new(SystemClock)).await?;
            println!("cairn-server listening on {}", server.url());
            stop_requested().await?;
            server.shutdown().await?;
        }
        Command::Migrate { config } => {
            let config =
                Config::load(&config).with_context(|| format!("loading {}", config.display()))?;
            cairn_server::migrate(&config).await?;
            println!("the registry is up to date");
        }
        Command::Dev { data, listen } => {
            let dev = DevServer::builder(&data).listen(listen).start().await?;
            println!(
                "embedded S3 store at {} (data in {})",
                dev.s3_endpoint(),
                data.display()
            );
            println!("cairn-server listening on {}", dev.url());
            stop_requested().await?;
            dev.shutdown().await?;
        }
        Command::BenchGrants {
            registry,
            instances,
            clients,
            requests,
            devices,
            no_grant_cache,
            json,
        } => {
            let report = bench_grants_dev(BenchOptions {
                clients: clients.max(1),
                requests,
                devices: devices.max(2),
                grant_cache: !no_grant_cache,
                registry_url: registry,
                instances: instances.max(1),
                ..BenchOptions::default()
            })
            .await?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "{} x{}: {} grant requests from {} clients ({} devices, grant cache {}): {} errors, {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms",
                    report.registry,
                    report.instances,
                    report.requests,
                    report.clients,
                    report.devices,
                    if report.grant_cache { "on" } else { "off" },
                    report.errors,
                    report.throughput_rps,
                    report.p50_ms,
                    report.p99_ms
                );
            }
            if report.errors > 0 {
                anyhow::bail!("{} requests failed", report.errors);
            }
        }
    }
    Ok(())
}

/// Ctrl-C, or SIGTERM from a service manager or `kill`: either stops the
/// service cleanly (open requests finish, the registry closes).
async fn stop_requested() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        tokio::select! {
            ctrl_c = tokio::signal::ctrl_c() => ctrl_c.context("waiting for ctrl-c")?,
            _ = term.recv() => {}
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.context("waiting for ctrl-c")
    }
}
