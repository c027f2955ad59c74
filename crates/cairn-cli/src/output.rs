//! Writing to standard output. A closed pipe (`cairn list | head`) ends the
//! program quietly instead of panicking, as command-line tools do.

use std::io::Write;

pub fn emit(text: std::fmt::Arguments<'_>, newline: bool) {
    let mut out = std::io::stdout().lock();
    let result = out
        .write_fmt(text)
        .and_then(|()| {
            if newline {
                out.write_all(b"\n")
            } else {
                Ok(())
            }
        })
        .and_then(|()| out.flush());
    if let Err(e) = result {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

/// `println!` that tolerates a closed pipe.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => { $crate::output::emit(format_args!($($arg)*), true) };
}

/// `print!` that tolerates a closed pipe.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::emit(format_args!($($arg)*), false) };
}
