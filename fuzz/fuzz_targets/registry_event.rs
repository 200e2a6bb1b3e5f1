//! Registry events: parsing any text never panics, and an event that parses writes back to
//! exactly the same text (one encoding per event, so signed bytes are never ambiguous).
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry_core::event::Event;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(event) = Event::parse(text)
    {
        assert_eq!(event.to_text(), text);
    }
});
