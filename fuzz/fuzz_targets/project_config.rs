//! `ptrack.toml`: the parser, the file reader (size, UTF-8, unknown-key warnings) and the
//! gates' validation. Any bytes give a config or an error naming the file, never a panic.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ptrack::Config;

/// One scratch file per fuzzing process, rewritten for each input; in memory where the
/// system has a tmpfs (a file on disk costs about 2 ms an input, 100 times the parsing).
fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("ptrack-fuzz-{}.toml", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let shown = Path::new("ptrack.toml");
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(config) = Config::parse(text, shown)
    {
        let _ = config.report.validate();
        let _ = config.price_of("llama3.1:8b");
    }
    if std::fs::write(scratch(), data).is_ok() {
        match Config::load(scratch(), shown) {
            Ok((_, diagnostics)) => {
                for d in diagnostics {
                    assert_eq!(d.path, shown);
                }
            }
            Err(e) => assert!(e.to_string().contains("ptrack.toml"), "{e}"),
        }
    }
});
