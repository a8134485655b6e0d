//! The `wgsd` command line: argument parsing only; the work is done by the library.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "wgsd",
    version,
    about = "Stable Diffusion on wgpu, inside a planned memory budget"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every GPU adapter with the limits and features wgsd uses.
    Devices {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Devices { json } => {
            wgsd::devices::report(json).map(|s| println!("{}", s.trim_end()))
        }
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
