//! One module per subcommand: `Args` (clap) and `run`.

pub mod bench;
pub mod decode;
pub mod demo;
pub mod replay;
pub mod report;
pub mod simulate;
pub mod transitions;
