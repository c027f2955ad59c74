//! Reading back what the service and storage hold, for the tests that
//! look for plaintext in it: every file under a folder (bucket objects,
//! registry, write-ahead logs), and a case-blind search of bytes.

use std::path::Path;

/// Every file under `dir`, read whole, with its path.
pub fn all_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.push((path.display().to_string(), bytes));
            }
        }
    }
    out
}

/// Whether `hay` holds `needle`, in any case.
pub fn contains(hay: &[u8], needle: &str) -> bool {
    let lower: Vec<u8> = hay.iter().map(u8::to_ascii_lowercase).collect();
    let needle = needle.to_ascii_lowercase();
    lower.windows(needle.len()).any(|w| w == needle.as_bytes())
}
