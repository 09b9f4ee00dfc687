//! `confirma-sandbox`: a local CFIS onboarding simulator. Prints one JSON line with its base URL and
//! provisioning token, then serves until SIGTERM/SIGINT. Logs go to stderr (`RUST_LOG` to enable).

use std::process::ExitCode;

use clap::Parser;
use confirma_sandbox::cli::{run, SandboxArgs};

/// A local, in-memory simulator of the CFIS onboarding API with fault injection.
///
/// The Partner Provisioning Token is read from CONFIRMA_SANDBOX_PROVISIONING_TOKEN when set (random
/// otherwise). On start the sandbox prints one JSON line on stdout:
/// {"baseUrl": "...", "provisioningToken": "...", "partnerCode": "..."}
#[derive(Parser)]
#[command(name = "confirma-sandbox", version)]
struct Cli {
    #[command(flatten)]
    args: SandboxArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into()))
        .try_init();
    match run(cli.args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("confirma-sandbox: {e}");
            ExitCode::FAILURE
        }
    }
}
