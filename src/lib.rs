//! berth: a Docker-compatible container runner that publishes ports itself.
//!
//! Layers, each a module (see DESIGN.md in the project's shared notes):
//! `cli` (clap definitions), `portspec` (Docker's port grammar, pure), `commands`
//! (one file per subcommand, orchestration only), `config` (file, environment,
//! defaults), and `app` (the single place where errors become exit codes).

pub mod alloc;
pub mod app;
pub mod cli;
pub mod commands;
pub mod complete;
pub mod config;
pub mod display;
pub mod engine;
pub mod error;
pub mod firewall;
pub mod lock;
pub mod model;
pub mod nat;
pub mod passthrough;
pub mod portspec;
pub mod present;
pub mod reconcile;
pub mod runspec;
pub mod settings;
pub mod trust;
pub mod watch;
