//! The integration test binary; one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_possible_truncation, missing_docs)]

mod async_api;
mod backup;
mod bench;
mod cli;
mod cli_state;
mod events;
mod evidence;
mod export_audit;
mod export_jsonl;
mod export_postgres;
mod export_sqlite;
mod faultsim_util;
mod fuzz_corpus;
mod golden;
mod import_kill;
mod import_memory;
mod index;
mod io_errors;
mod log;
mod maintenance;
mod media;
mod pipeline;
mod power_loss;
mod process;
mod producers;
mod purge;
mod readers;
mod recovery;
mod retention;
mod snapshots;
mod sql_migrations;
mod state;
mod torture;
mod util;
mod validate;
