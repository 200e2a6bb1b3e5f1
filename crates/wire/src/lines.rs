//! The body of juki's small signed notes (alert reports, heartbeats, quarantine releases): a
//! header line, then `name value` lines in a fixed order, each note ending in a newline. Pure.

/// A note's lines after its header, read field by field in order. Errors are the words a
/// parser wraps in its own error type.
pub struct Lines<'a> {
    lines: std::str::Split<'a, char>,
    /// The last field read: named when lines follow it.
    last: &'static str,
}

impl<'a> Lines<'a> {
    /// The lines of `text` after `header`, which must be its first line.
    pub fn open(text: &'a str, header: &str) -> Result<Lines<'a>, String> {
        let mut lines = text.strip_suffix('\n').ok_or("no final newline")?.split('\n');
        if lines.next() != Some(header) {
            return Err(format!("the first line is not {header}"));
        }
        Ok(Lines { lines, last: "the header" })
    }

    /// The value of the next line, which must be field `name`.
    pub fn field(&mut self, name: &'static str) -> Result<String, String> {
        self.last = name;
        self.lines
            .next()
            .and_then(|l| l.strip_prefix(name))
            .and_then(|l| l.strip_prefix(' '))
            .map(str::to_owned)
            .ok_or_else(|| format!("no {name} line where it belongs"))
    }

    /// Checks that no line follows the last field.
    pub fn end(mut self) -> Result<(), String> {
        match self.lines.next() {
            Some(_) => Err(format!("lines after {}", self.last)),
            None => Ok(()),
        }
    }
}
