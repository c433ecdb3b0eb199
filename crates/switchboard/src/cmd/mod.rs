//! One module per subcommand: `Args` (clap) and `run`.

pub mod decode;
pub mod demo;
pub mod simulate;
pub mod transitions;
