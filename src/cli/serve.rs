//! `ptrack serve`: the project over HTTP (the JSON API, /metrics and alerts), until Ctrl-C.

use std::net::SocketAddr;
use std::time::Duration;

use super::Ctx;
use super::error::{CliError, CliResult};
use ptrack::serve::{AppState, ServeConfig, ServeError};

/// Serve the project over HTTP: a dashboard, a JSON API, Prometheus /metrics and alerts
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Every request reads the files as they are now: new versions, new runs and a `git checkout` show
on the next request. The API answers with the models `--json` prints (routes in the README and
at /api/openapi.json). Off the loopback interface a token is required; writes always need it
when one is set, reads too with --token-for-reads.

Examples:
  ptrack serve
  ptrack serve --addr 127.0.0.1:0                 any free port (the line printed names it)
  ptrack serve --addr 0.0.0.0:7878 --token s3cret --token-for-reads
  ptrack serve --max-body-bytes 1000000 --alert-interval 1m

The token can come from the environment instead: PTRACK_TOKEN.")]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port)
    #[arg(long, default_value = "127.0.0.1:7878", value_name = "IP:PORT")]
    pub addr: SocketAddr,
    /// Open the dashboard in a browser once listening
    #[arg(long)]
    pub open: bool,
    /// Token that requests bring as `Authorization: Bearer TOKEN` (required off loopback)
    #[arg(
        long,
        env = "PTRACK_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// Require the token for reads too, not only for writes
    #[arg(long)]
    pub token_for_reads: bool,
    /// Largest request body, in bytes (a larger one gets 413)
    #[arg(long, value_name = "N", default_value_t = ptrack::serve::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Longest a client may take to send a request's headers, and its body (408) (30s, 2m)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// How often to evaluate the alert rules of ptrack.toml (also after every post)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub alert_interval: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    match ptrack::alerts::parse_duration(s)? {
        0 => Err(format!("a duration must be longer than 0, got {s:?}")),
        n => Ok(Duration::from_secs(n)),
    }
}

pub fn run(ctx: &mut Ctx, args: ServeArgs) -> CliResult {
    let project = ctx.project()?;
    let mut config = ServeConfig::new(project.root().to_path_buf());
    config.token = args.token.filter(|t| !t.is_empty());
    if args.token_for_reads && config.token.is_none() {
        return Err(CliError::new("--token-for-reads needs a token")
            .with_hint("give one with --token or PTRACK_TOKEN"));
    }
    config.token_for_reads = args.token_for_reads;
    config.max_body_bytes = args.max_body_bytes;
    config.request_timeout = args.request_timeout;
    config.alert_interval = args.alert_interval;
    config.now = std::env::var_os("PTRACK_NOW").map(|_| ctx.now);
    config.check_addr(args.addr).map_err(|e| {
        CliError::from_source(e)
            .with_hint("give a token with --token or PTRACK_TOKEN, or listen on 127.0.0.1")
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(format!("cannot start the server's runtime: {e}")))?;
    runtime.block_on(async {
        let listener = ptrack::serve::bind(args.addr).await.map_err(serve_error)?;
        let addr = listener
            .local_addr()
            .map_err(|e| CliError::new(format!("cannot read the bound address: {e}")))?;
        let url = format!("http://{addr}");
        ctx.ui.line(&format!("listening on {url}"))?;
        ctx.ui.flush()?;
        if args.open {
            open_browser(ctx, &url);
        }
        ptrack::serve::serve(listener, AppState::new(config), shutdown_signal())
            .await
            .map_err(serve_error)
    })?;
    ctx.ui.status("stopped");
    Ok(())
}

fn serve_error(e: ServeError) -> CliError {
    match &e {
        ServeError::Bind { .. } => CliError::from_source(e)
            .with_hint("another program may hold the port; pick another with --addr"),
        _ => CliError::from_source(e),
    }
}

/// Ctrl-C, or SIGTERM where there is one.
async fn shutdown_signal() {
    let ctrl_c = async {
        // Without a handler Ctrl-C ends the process, which is a shutdown too.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// Open `url` with the desktop's opener; say so when there is none.
fn open_browser(ctx: &mut Ctx, url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    let spawned = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = spawned {
        ctx.ui.status(&format!(
            "cannot open a browser ({opener}: {e}); open {url}"
        ));
    }
}
