//! The network's processes: every node and witness of a network directory started as a real
//! `juki serve` / `juki witness serve` process, logging beside its configuration, and stopped
//! together.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, Result};

use crate::setup::Network;

/// The node processes; killed when dropped.
pub struct Nodes {
    children: Vec<(String, Child)>,
}

impl Nodes {
    /// Starts every node of `network` as a `juki serve` process, logging to
    /// `<node dir>/node.log`.
    pub fn start(network: &Network) -> Result<Nodes> {
        let mut nodes = Nodes { children: Vec::new() };
        for witness in &network.witnesses {
            nodes.children.push((witness.name.clone(), start_witness(&witness.config)?));
        }
        for node in &network.nodes {
            nodes.children.push((node.name.clone(), start_node(&node.config)?));
        }
        Ok(nodes)
    }

    /// Stops every node (SIGKILL: an acknowledged write must survive that anyway).
    pub fn stop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.children.clear();
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts one node from its `node.toml`.
pub fn start_node(config: &Path) -> Result<Child> {
    let dir = config.parent().context("node.toml has a directory")?;
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("node.log"))?;
    let exe = crate::binary()?;
    Command::new(exe)
        .args(["serve", "--config"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting the node of {}", config.display()))
}

/// Starts a witness from its configuration, logging to `witness.log` beside it.
pub fn start_witness(config: &Path) -> Result<Child> {
    let dir = config.parent().context("witness.toml has a directory")?;
    let log =
        std::fs::OpenOptions::new().create(true).append(true).open(dir.join("witness.log"))?;
    Command::new(crate::binary()?)
        .args(["witness", "serve", "--config"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting the witness of {}", config.display()))
}
