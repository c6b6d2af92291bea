//! Version numbers: parsing, and for two versions made from the input, that ordering,
//! equality and `same_version` agree.
#![no_main]

use std::cmp::Ordering;

use libfuzzer_sys::fuzz_target;
use ptrack::Version;
use ptrack::version::same_version;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Two texts: before and after the first space.
    let (a, b) = text.split_once(' ').unwrap_or((text, text));
    let (pa, pb) = (a.parse::<Version>(), b.parse::<Version>());
    if let Ok(v) = &pa {
        assert_eq!(v.to_string(), a, "display gives the text back");
        assert_eq!(v.as_str().parse::<Version>().as_ref(), Ok(v));
        let _ = v.next_minor();
    }
    match (&pa, &pb) {
        (Ok(x), Ok(y)) => {
            assert_eq!(x == y, x.cmp(y) == Ordering::Equal, "{a} {b}");
            assert_eq!(x.cmp(y), y.cmp(x).reverse(), "{a} {b}");
            assert_eq!(same_version(a, b), x == y, "{a} {b}");
        }
        _ => assert_eq!(same_version(a, b), a == b, "{a} {b}"),
    }
});
