//! A server's memory and CPU time, read from `/proc`: the process and its
//! children (nginx's workers), so that every server is measured the same.

use std::time::Duration;

/// The process `pid` and its descendants.
fn family(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut next = 0;
    while next < all.len() {
        let parent = all[next];
        next += 1;
        let tasks = std::fs::read_dir(format!("/proc/{parent}/task"));
        for task in tasks.into_iter().flatten().flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            all.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    all
}

/// Resident memory of `pid` and its descendants, in KiB.
pub(crate) fn rss_kib(pid: u32) -> u64 {
    family(pid)
        .into_iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| {
                    value
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .sum()
}

/// User plus system CPU time of `pid` and its descendants (every thread).
pub(crate) fn cpu_time(pid: u32) -> Duration {
    let ticks_per_second = rustix::param::clock_ticks_per_second().max(1);
    let ticks: u64 = family(pid)
        .into_iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .filter_map(|stat| {
            // The command may hold spaces and parentheses: count fields
            // after its closing parenthesis (utime and stime are fields
            // 14 and 15, the 12th and 13th after it).
            let after = &stat[stat.rfind(')')? + 1..];
            let mut fields = after.split_whitespace().skip(11);
            let user: u64 = fields.next()?.parse().ok()?;
            let system: u64 = fields.next()?.parse().ok()?;
            Some(user + system)
        })
        .sum();
    Duration::from_secs_f64(ticks as f64 / ticks_per_second as f64)
}

/// How many times the threads of `pid` and its descendants went to sleep
/// (voluntary context switches): each is a wake-up later.
pub(crate) fn sleeps(pid: u32) -> u64 {
    family(pid)
        .into_iter()
        .flat_map(|p| {
            std::fs::read_dir(format!("/proc/{p}/task"))
                .into_iter()
                .flatten()
        })
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("status")).ok())
        .filter_map(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|value| value.trim().parse::<u64>().ok())
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_memory_and_spends_cpu() {
        let me = std::process::id();
        assert!(rss_kib(me) > 100);
        let before = cpu_time(me);
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(100) {
            x = x.wrapping_mul(31).wrapping_add(1);
        }
        std::hint::black_box(x);
        assert!(cpu_time(me) > before);
    }

    #[test]
    fn a_process_that_sleeps_is_counted() {
        // A child of its own: this test process's threads come and go as
        // other tests end, and the count of a gone thread goes with it.
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let asleep = |pid: u32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('S')
            })
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !asleep(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let counted = sleeps(pid);
        let _ = child.kill();
        let _ = child.wait();
        assert!(counted >= 1, "{counted}");
    }
}
