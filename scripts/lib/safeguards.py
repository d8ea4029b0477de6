#!/usr/bin/env python3
"""Remove one safeguard of berth at a time, rebuild, run the end-to-end test that backs
it, and put the source back: each test must fail without its safeguard. Needs what
scripts/test needs (root, a Docker daemon, the busybox test image: run scripts/test once
first). Prints one line per removal. Usage: scripts/lib/safeguards.py [NAME-SUBSTRING...]
"""
import subprocess, sys, os, time
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPS = [
 ("revert of landed rules", "src/reconcile/mod.rs",
  "                        self.revert(f, before, done);", "                        let _ = (f, before, done);",
  ["e2e_faults", "a_failure_after_another_family_landed_leaves_nothing"]),
 ("revert of landed rules (CLI)", "src/reconcile/mod.rs",
  "                        self.revert(f, before, done);", "                        let _ = (f, before, done);",
  ["e2e_reliability", "a_failing_iptables_restore_leaves_nothing"]),
 ("run's rollback (container and rules)", "src/commands/run.rs",
  "    let Some(id) = &undo.container else { return };", "    let Some(_id) = &undo.container else { return };\n    return;\n    #[allow(unreachable_code)]\n    let id = _id;",
  ["e2e_reliability", "a_failing_iptables_restore_leaves_nothing"]),
 ("reaper: image labels not trusted", "src/reconcile/reap.rs",
  ".is_none_or(|l| l.contains_key(RUN_LABEL))", ".is_some_and(|_| false)",
  ["e2e_reliability", "the_reaper_takes_only_what_a_killed_berth_run_abandoned"]),
 ("reaper: only run --rm is marked", "src/runspec/mod.rs",
  "    if verb == Verb::Run && a.rm {", "    if a.rm {",
  ["e2e_reliability", "the_reaper_takes_only_what_a_killed_berth_run_abandoned"]),
 ("reaper itself", "src/reconcile/reap.rs",
  "        if !dry_run {\n            engine", "        if false {\n            engine",
  ["e2e_reliability", "sigkill_at_each_step_then_sync_leaves_no_orphan_and_no_leak"]),
 ("watcher gets berth's config", "src/watch/mod.rs",
  'cmd.arg("--berth-config").arg(dir);', 'cmd.arg("--config").arg(dir);',
  ["e2e_watch", "run_starts_a_watcher_when_none_runs"]),
 ("shown ports: seal and image checked", "src/trust.rs",
  "        let seal = labels.get(crate::model::SEAL_LABEL)?;\n        if self.key",
  "        return crate::model::from_label(ports);\n        #[allow(unreachable_code)]\n        let seal = labels.get(crate::model::SEAL_LABEL)?;\n        if self.key",
  ["e2e_watch", "forged_and_copied_labels_are_never_published"]),
 ("engine placement: the other end of our connection, and the engine's ID", "src/engine/place.rs",
  ["    let stream = target.iter().find_map(|t| {",
   "            Some(id) if ours.is_empty() || ours.contains(&id) => Place::Local,"],
  ["    if let Some((_, _, inode)) = crate::firewall::host::listening_inodes().into_iter().find(|(ip, port, _)| ip.is_unspecified() && target.iter().any(|t| t.port() == *port)) { return owner_of_inode(inode); }\n    let stream = target.iter().find_map(|t| {",
   "            Some(_) => Place::Local,"],
  ["e2e_remote", "the_local_engine_over_tcp_is_still_local"]),
 ("engine placement: the other end of our connection", "src/engine/place.rs",
  "    let stream = target.iter().find_map(|t| {",
  "    if let Some((_, _, inode)) = crate::firewall::host::listening_inodes().into_iter().find(|(ip, port, _)| ip.is_unspecified() && target.iter().any(|t| t.port() == *port)) { return owner_of_inode(inode); }\n    let stream = target.iter().find_map(|t| {",
  ["e2e_remote", "the_local_engine_over_tcp_is_still_local"]),
 ("the lock: a live holder is waited for", "src/lock.rs",
  "        let r = flock(&file, libc::LOCK_EX);",
  "        let r: io::Result<()> = Ok(());",
  ["e2e_reliability", "the_lock_serialises_and_a_dead_holder_does_not_block"]),
 ("drift repair: the watcher's pass every interval", "src/watch/mod.rs",
  "                    _ = tick.tick() => {\n                        if let Err(e) = self.full_pass(&rec, &fw).await {",
  "                    _ = tick.tick() => {\n                        if let Err(e) = Ok::<(), crate::error::Error>(()) {",
  ["e2e_watch", "flushed_chains_and_jumps_are_repaired_within_the_interval"]),
 ("UDP conntrack flush", "src/firewall/host.rs",
  "pub fn flush_udp_conntrack(published: &[Published]) {\n", "pub fn flush_udp_conntrack(published: &[Published]) {\n    if !published.is_empty() { return; }\n",
  ["e2e_reliability", "a_udp_flow_that_came_before_its_port_reaches_the_container"]),
 ("raw guard against direct routing", "src/firewall/desired.rs",
  '        "-A {} -d {ip}/{plen} ! -i {bridge} {comment} -j DROP",\n        layout.raw\n    ));',
  '        "-A {} -d {ip}/{plen} ! -i {bridge} {comment} -j DROP",\n        layout.raw\n    ));\n    rs.raw.pop();',
  ["e2e_publish", "published_ports_are_reachable_and_nothing_else_is"]),
 ("a host service wins its port", "src/reconcile/mod.rs",
  "                        if let Some(sock) = host::socket_on(sockets, p, ip) {",
  "                        if let Some(sock) = host::socket_on(sockets, p, ip).filter(|_| false) {",
  ["e2e_watch", "a_host_service_on_a_stopped_containers_port_wins"]),
 ("a deletion by handle is bound to the read's generation", "src/firewall/batch.rs",
  "    put_attr(&mut body, NFNL_BATCH_GENID, &generation.to_be_bytes());",
  "    put_attr(&mut body, NFNL_BATCH_GENID, &0u32.to_be_bytes());",
  ["nat_ls_netlink", "deletes_by_handle_only_from_the_tables_as_read"]),
 ("each table's rule handles apart", "src/firewall/batch.rs",
  ["!gone.contains(&(t, *h)))?", "gone.insert((t, handle));",
   "map(|(_, h)| (t, *h))", "!gone.contains(&(t, *h))) {"],
  ["!gone.contains(&(\"\", *h)))?", "gone.insert((\"\", handle));",
   "map(|(_, h)| (\"\", *h))", "!gone.contains(&(\"\", *h))) {"],
  ["nat_ls_netlink", "deletes_by_handle_like_iptables_restore"]),
 ("need root before anything exists", "src/commands/run.rs",
  "        if !host::may_change_firewall() {\n            // before anything exists",
  "        if false && !host::may_change_firewall() {\n            // before anything exists",
  ["e2e_publish", "without_root_nothing_is_created"]),
]
# a watcher the tests did not start would repair what a removed safeguard broke
if subprocess.run(["bash", "-c", f"source {ROOT}/scripts/lib/setup.sh; no_foreign_watcher"]).returncode != 0:
    sys.exit(1)
only = sys.argv[1:]
env = dict(os.environ, BERTH_E2E="1")
for name, path, old, new, test in EXPS:
    if test is None or (only and not any(o in name for o in only)):
        continue
    p = os.path.join(ROOT, path)
    src = open(p).read()
    # one patch point, or several in the same file (safeguards that back each other up)
    olds, news = ([old], [new]) if isinstance(old, str) else (old, new)
    if any(o not in src for o in olds):
        print(f"SKIP {name}: patch point not found", flush=True); continue
    patched = src
    for o, n in zip(olds, news):
        patched = patched.replace(o, n, 1)
    open(p, "w").write(patched)
    try:
        t0 = time.time()
        b = subprocess.run(["cargo", "build", "--quiet", "--tests"], cwd=ROOT, env=env, capture_output=True, text=True)
        if b.returncode != 0:
            print(f"BUILD-FAIL {name}: {b.stderr[-800:]}", flush=True); continue
        r = subprocess.run(["cargo", "test", "--quiet", "--test", test[0], "--", "--include-ignored", "--exact", test[1], "--test-threads=1"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        out = r.stdout + r.stderr
        why = ""
        for line in out.splitlines():
            if "panicked at" in line:
                i = out.splitlines().index(line)
                why = " | ".join(out.splitlines()[i:i+3])[:300]
                break
        verdict = "FAILS (good)" if r.returncode != 0 else "STILL PASSES (bad)"
        print(f"{verdict}: {name} -> {test[0]}::{test[1]} ({time.time()-t0:.0f}s) {why}", flush=True)
    finally:
        open(p, "w").write(src)
subprocess.run(["cargo", "build", "--quiet", "--tests"], cwd=ROOT, env=env)
print("restored", flush=True)
