//! What can go wrong in setup, status and teardown, each saying what to do next.

/// A setup, status or teardown failure.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The request cannot be carried out as asked.
    #[error("{0}")]
    Refused(String),
    /// A price table that does not read.
    #[error("price table {file}: {message}")]
    Prices { file: String, message: String },
    /// An AWS call failed.
    #[error("{action} failed: {message}")]
    Aws { action: String, message: String },
    /// Setup stopped part-way: what was made is tagged, so teardown or a second setup
    /// finishes the job.
    #[error(
        "{cause}\nSetup stopped part-way; everything it made so far is tagged. Run the same \
         setup again to finish it, or `switchboard aws teardown --instance-id {instance_id}` \
         to remove what it made."
    )]
    PartWay {
        instance_id: String,
        cause: Box<SetupError>,
    },
}

impl SetupError {
    /// An AWS call's failure, with the SDK error's full chain.
    pub fn aws(action: impl Into<String>, err: impl std::error::Error) -> SetupError {
        let mut message = err.to_string();
        let mut source = err.source();
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        SetupError::Aws {
            action: action.into(),
            message,
        }
    }
}
