//! Moving a slot of a private Redis Cluster from one master to another
//! while it serves, as `redis-cli --cluster reshard` does it, one slot at
//! a time: the target imports, the source migrates, the keys move with
//! `MIGRATE` in rounds (a client meanwhile gets `ASK` for a key that has
//! moved), then every master learns the slot's new owner (`MOVED` from
//! then on).

use std::process::{Command, Stdio};

use super::RedisCluster;

impl RedisCluster {
    /// The slot of `key`.
    pub fn slot_of(&self, key: &str) -> Option<u16> {
        self.nodes
            .iter()
            .find_map(|node| node.query(&format!("CLUSTER KEYSLOT {key}")))?
            .parse()
            .ok()
    }

    /// Moves `slot` from node `from` to node `to` (both masters), keys and
    /// all, `keys_per_round` keys per `MIGRATE`; `pause` after the slot is
    /// marked migrating, and again once its keys have moved (the moments a
    /// client is sent to the target with `ASK`), so that a test's traffic
    /// meets each stage.
    ///
    /// # Errors
    ///
    /// A step that `redis-cli` reports as failed, with its output.
    pub fn move_slot(
        &self,
        slot: u16,
        from: usize,
        to: usize,
        keys_per_round: usize,
        pause: std::time::Duration,
    ) -> Result<(), String> {
        let (source, target) = (&self.nodes[from], &self.nodes[to]);
        let id = |node: &super::RedisServer| {
            node.query("CLUSTER MYID")
                .ok_or_else(|| format!("node on port {} did not say its id", node.port))
        };
        let (source_id, target_id) = (id(source)?, id(target)?);
        let slot = slot.to_string();
        cli(
            target.port,
            &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &source_id],
        )?;
        cli(
            source.port,
            &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &target_id],
        )?;
        std::thread::sleep(pause);
        loop {
            let keys = cli(
                source.port,
                &[
                    "CLUSTER",
                    "GETKEYSINSLOT",
                    &slot,
                    &keys_per_round.to_string(),
                ],
            )?;
            let keys: Vec<&str> = keys.lines().filter(|key| !key.is_empty()).collect();
            if keys.is_empty() {
                break;
            }
            let port = target.port.to_string();
            let mut migrate = vec!["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "KEYS"];
            migrate.extend(keys);
            let answer = cli(source.port, &migrate)?;
            if answer.trim() != "OK" {
                return Err(format!("MIGRATE answered {answer:?}"));
            }
        }
        std::thread::sleep(pause);
        // The target first, so that the slot is never owned by nobody.
        cli(
            target.port,
            &["CLUSTER", "SETSLOT", &slot, "NODE", &target_id],
        )?;
        cli(
            source.port,
            &["CLUSTER", "SETSLOT", &slot, "NODE", &target_id],
        )?;
        for node in &self.nodes {
            if node.port != source.port && node.port != target.port {
                // A replica refuses; the bus tells it anyway.
                let _ = cli(
                    node.port,
                    &["CLUSTER", "SETSLOT", &slot, "NODE", &target_id],
                );
            }
        }
        Ok(())
    }
}

impl super::RedisServer {
    /// How many times this node ran `command` (`INFO commandstats`).
    pub fn command_calls(&self, command: &str) -> u64 {
        self.query("INFO commandstats")
            .and_then(|info| {
                info.lines().find_map(|line| {
                    let rest = line.strip_prefix(&format!("cmdstat_{command}:calls="))?;
                    rest.split(',').next()?.parse().ok()
                })
            })
            .unwrap_or(0)
    }
}

/// `redis-cli -p port --raw <args>`: its output, or why it failed.
fn cli(port: u16, args: &[&str]) -> Result<String, String> {
    let output = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "--raw"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("redis-cli: {err}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() || text.starts_with("ERR") || text.starts_with("(error)") {
        return Err(format!("redis-cli {args:?} on port {port}: {text}"));
    }
    Ok(text)
}
