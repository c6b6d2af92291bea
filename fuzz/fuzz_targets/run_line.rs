//! One run-log line: the reader's entry point (fast scanner, else the full parser) and the
//! full parser alone. Any bytes give an event or a line error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptrack::runlog::{parse_event, parse_line};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The reader hands over one line at a time, without its line end.
    for line in text.split('\n') {
        let _ = parse_event(line);
        if let Err(e) = parse_line(line) {
            assert!(!e.message.is_empty());
        }
    }
});
