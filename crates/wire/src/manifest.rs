//! A node's signed baseline manifest: the SHA-256 of every file the node runs from — its
//! binary, its `node.toml`, its TLS certificate, key and CA, its signing keys — signed offline
//! by a person's key (a town's admin key; the national administrator's for the other nodes),
//! so that root on the node can change a file but not the manifest. Digests only: never a
//! key's bytes. Pure: no I/O.
//!
//! ```text
//! juki.manifest/v1
//! node urn:juki:municipal:204072
//! time 1764806400
//! sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 /srv/juki/bin/juki
//! sha256 60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752 /srv/juki/achi/node.toml
//! ```

use std::collections::BTreeMap;

/// The first line of a manifest.
pub const MANIFEST_HEADER: &str = "juki.manifest/v1";

/// A signed baseline of one node's files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// The identity (URI) of the node it describes.
    pub node: String,
    /// When it was signed (POSIX seconds).
    pub time: u64,
    /// Each file's absolute path and SHA-256 (lowercase hex), in the order listed.
    pub files: Vec<(String, String)>,
}

/// Why a manifest's text is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a manifest: {0}")]
pub struct ManifestError(String);

fn is_digest(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Manifest {
    /// The text to sign. Refuses a path with a line break or a digest that is not one.
    pub fn text(&self) -> Result<String, ManifestError> {
        let mut text = format!(
            "{MANIFEST_HEADER}\nnode {}\ntime {}\n",
            self.node.replace('\n', " "),
            self.time
        );
        for (path, digest) in &self.files {
            if path.contains(['\n', '\r']) || path.is_empty() || !is_digest(digest) {
                return Err(ManifestError(format!("cannot list {path:?}")));
            }
            text.push_str(&format!("sha256 {digest} {path}\n"));
        }
        Ok(text)
    }

    /// Parses a manifest's text (its signature is checked apart).
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let bad = |what: &str| ManifestError(what.to_owned());
        let mut lines = text.strip_suffix('\n').ok_or_else(|| bad("no final newline"))?.split('\n');
        if lines.next() != Some(MANIFEST_HEADER) {
            return Err(bad("the first line is not juki.manifest/v1"));
        }
        let node = lines
            .next()
            .and_then(|l| l.strip_prefix("node "))
            .ok_or_else(|| bad("no node line"))?
            .to_owned();
        let time = lines
            .next()
            .and_then(|l| l.strip_prefix("time "))
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| bad("no time line with a number"))?;
        let mut files = Vec::new();
        for line in lines {
            let (digest, path) = line
                .strip_prefix("sha256 ")
                .and_then(|rest| rest.split_once(' '))
                .filter(|(digest, path)| is_digest(digest) && !path.is_empty())
                .ok_or_else(|| bad("a file line is not `sha256 HEX PATH`"))?;
            if files.iter().any(|(p, _)| p == path) {
                return Err(bad("a file is listed twice"));
            }
            files.push((path.to_owned(), digest.to_owned()));
        }
        Ok(Manifest { node, time, files })
    }

    /// Whether `path` is listed.
    pub fn lists(&self, path: &str) -> bool {
        self.files.iter().any(|(p, _)| p == path)
    }

    /// The listed files whose digest is not the one `actual` gives (`None`: unreadable), in
    /// the order listed.
    pub fn differences(&self, actual: &BTreeMap<String, Option<String>>) -> Vec<String> {
        self.files
            .iter()
            .filter(|(path, digest)| actual.get(path).and_then(Option::as_ref) != Some(digest))
            .map(|(path, _)| path.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            node: "urn:juki:municipal:204072".into(),
            time: 1_764_806_400,
            files: vec![
                ("/srv/juki/bin/juki".into(), "ab".repeat(32)),
                ("/srv/juki/achi/node.toml".into(), "cd".repeat(32)),
            ],
        }
    }

    #[test]
    fn a_manifest_parses_back() {
        let m = manifest();
        assert_eq!(Manifest::parse(&m.text().unwrap()).unwrap(), m);
    }

    #[test]
    fn a_changed_or_unreadable_file_differs() {
        let m = manifest();
        let mut actual: BTreeMap<String, Option<String>> =
            m.files.iter().map(|(p, d)| (p.clone(), Some(d.clone()))).collect();
        assert!(m.differences(&actual).is_empty());
        actual.insert("/srv/juki/achi/node.toml".into(), Some("ef".repeat(32)));
        actual.insert("/srv/juki/bin/juki".into(), None);
        assert_eq!(m.differences(&actual), ["/srv/juki/bin/juki", "/srv/juki/achi/node.toml"]);
        actual.clear();
        assert_eq!(m.differences(&actual).len(), 2);
    }

    #[test]
    fn malformed_manifests_are_refused() {
        let text = manifest().text().unwrap();
        for broken in [
            text.replace(MANIFEST_HEADER, "juki.manifest/v2"),
            text.replace("time 1764806400", "time x"),
            text.replace(&"ab".repeat(32), "AB"),
            text.replace(&"ab".repeat(32), &"AB".repeat(32)),
            text.replace(" /srv/juki/bin/juki", ""),
            format!("{text}sha256 {} /srv/juki/bin/juki\n", "ab".repeat(32)),
            text.trim_end().to_owned(),
        ] {
            assert!(Manifest::parse(&broken).is_err(), "{broken}");
        }
        let mut m = manifest();
        m.files[0].0 = "/a\nsha256".into();
        assert!(m.text().is_err());
    }
}
