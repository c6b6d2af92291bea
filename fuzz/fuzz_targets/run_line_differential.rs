//! The fast run-line scanner against the full parser: every line the scanner accepts must
//! parse to the same event (so the same diagnostics: none), and any line it hands back is
//! the full parser's, by construction.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptrack::runlog::parse::fast_scanner_disagreement;

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n') {
        if let Some(why) = fast_scanner_disagreement(line) {
            panic!("{why}\nline: {:?}", String::from_utf8_lossy(line));
        }
    }
});
