//! Reading note text from standard input.

use std::io::Read;

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("could not read standard input: {0}")]
    Read(#[from] std::io::Error),
    #[error("standard input is not valid UTF-8 (first bad byte at offset {offset}); nothing was changed")]
    NotUtf8 { offset: usize },
}

/// All of standard input as text; invalid UTF-8 is an error, not replaced.
pub fn read_stdin_text() -> Result<String, InputError> {
    let mut bytes = Vec::new();
    std::io::stdin().read_to_end(&mut bytes)?;
    String::from_utf8(bytes).map_err(|e| InputError::NotUtf8 {
        offset: e.utf8_error().valid_up_to(),
    })
}
