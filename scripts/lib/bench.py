#!/usr/bin/env python3
"""berth's benchmark driver: berth against docker and podman on this machine, for real.

Run through scripts/bench (which installs what is missing, starts dockerd, sets up
podman and builds berth first). Every comparison is interleaved (berth, docker, podman,
berth, ...) and reported as medians and as ratios from the same rounds: the machine is
shared and noisy, so the ratios say more than the absolute times.

Phases (issue #11, "Performance, second round"):
  version   start-up (berth --version vs docker --version)
  flat      flat in port count: run -d / rm -f with -p 5100-32700:5100-32700 against
            the same with --expose 5100-32700 (the engine's own cost of those ports),
            a single port likewise, and the full 1024-65535 range where it is free;
            goal <= 1.3x
  existing  flat in rules present: 300 separate -p with 1,000 other containers' rules
            in the tables (fakes, berth's exact lines from `berth run --dry-run`)
            against none; goal <= 1.25x
  natls     berth nat ls against iptables -t nat -nL at 100, 1,000 and 10,000 rules, in
            a network namespace of the bench's own; goal <= 1.0x, identical output
  peers     berth / docker / podman side by side: a single port, a range, 500 separate
            -p, run -d and rm -f, on each engine version of the matrix (20.10, 28.5.2:
            switched with scripts/lib/versions.sh and back to 20.10 at the end, also on
            failure); goal >= 100x for the publish cost of 500 separate -p
  ps        berth ps against docker ps
  scaling   berth run -d / rm -f by the number of ports, ranges and separate flags
  watch     berth watch: latency from docker stop / start to the rules gone / there
            (p50/p99/max), idle CPU over 60 s, RSS
  profile   where berth's time goes: strace timelines (children, engine requests) of
            the cases with goals
  micro     the criterion micro-benchmarks (benches/pure.rs)

Everything it creates is named berth-bench-<pid>-...: containers (docker and podman),
network namespaces. Fake rules carry the tags berth:bec40000xxxx and sit in chains
BERTH-bec40000xxxx. All of it is removed at the end, on Ctrl-C, and at the start of the
next run (leftovers of a killed one).

Host ports used: 5100-32700 (flat), 1024-65535 (flat, only when free), 20000-20999 and
30000-30999.

berth runs with BERTH_WATCH=off: a `berth run -d` otherwise starts a watcher (one per
host), which would react to every container the bench starts. The watcher's own costs
are the watch phase's.

Max RSS comes from GNU time (/usr/bin/time -f %M), not from os.wait4 here: a child's
peak RSS includes the pages it held before exec, i.e. this Python's (~18 MB). Left-over
processes: this process is a child subreaper (prctl), so every process a command
leaves behind becomes its child and is counted after the command ends; docker-proxy
processes are counted by the container address in their command line, podman's conmon
by the container's ID.
"""

import argparse
import ctypes
import datetime
import fcntl
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PID = os.getpid()
PREFIX = f"berth-bench-{PID}-"
ANY_PREFIX = "berth-bench-"
# fake container IDs of loaded rules: 12 hex, this prefix, then the index in hex
FAKE_PREFIX = "bec40000"
FAKE_CHAIN = re.compile(r"^BERTH-" + FAKE_PREFIX + r"[0-9a-f]{4}$")
IMAGE = "busybox"
COMMAND = ["sleep", "300"]
MB = 1024  # ru_maxrss is in KiB
ROOT = os.environ.get("BERTH_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN_DIR = os.environ.get("BERTH_RUN_DIR") or "/run/berth"

RSS_LIMIT_MB = 30.0
SPEEDUP_TARGET = 100.0
PORTS_FLAT_LIMIT = 1.3  # publishing N ports costs about what exposing them costs
RULES_FLAT_LIMIT = 1.25  # with 1,000 other containers' rules, against none
NATLS_LIMIT = 1.0
PEER_SEPARATE = 500  # ">= 100x faster than docker/podman for 500 separate -p"
EXISTING_SEPARATE = 300

libc = ctypes.CDLL(None, use_errno=True)
PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWNET = 0x40000000

# our own long-running children (a watcher, nft monitor, docker events): never
# counted or killed as left behind
KEEP = set()


def log(msg):
    print(f"--> {msg}", file=sys.stderr, flush=True)


def subreaper(on):
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0)


# ---------------------------------------------------------------------------------
# running commands


class Result:
    def __init__(self, argv, wall, rss_kb, rc, out, err):
        self.argv = argv
        self.wall = wall  # seconds
        self.rss_kb = rss_kb
        self.rc = rc
        self.out = out
        self.err = err

    @property
    def ms(self):
        return self.wall * 1000.0

    @property
    def rss_mb(self):
        return self.rss_kb / MB

    def ok(self):
        return self.rc == 0

    def why(self):
        text = self.err.decode(errors="replace").strip() or self.out.decode(errors="replace").strip()
        return f"{' '.join(self.argv[:4])}... exited {self.rc}: {text[-400:]}"


TIME = "/usr/bin/time"


def timed(argv, data=None, rss=True, env=None):
    """Run argv: wall time, exit status, output, and (rss=True) the max RSS of the
    process, through GNU time (os.wait4 here would count this Python's own pages: a
    child's peak RSS includes what it held before exec). The wrapper costs both sides
    of a comparison the same; read-only commands are timed without it (rss=False) and
    their RSS taken from a separate wrapped run."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss_file:
        full = [TIME, "-q", "-f", "%M", "-o", rss_file.name, *argv] if rss else argv
        stdin = subprocess.PIPE if data is not None else subprocess.DEVNULL
        t0 = time.perf_counter()
        p = subprocess.Popen(full, stdin=stdin, stdout=out, stderr=err, env=env)
        if data is not None:
            try:
                p.stdin.write(data)
            except BrokenPipeError:
                pass
            p.stdin.close()
        _, status, _ = os.wait4(p.pid, 0)
        t1 = time.perf_counter()
        p.returncode = os.waitstatus_to_exitcode(status)
        rss_kb = 0
        if rss:
            words = rss_file.read().split()
            rss_kb = int(words[-1]) if words and words[-1].isdigit() else 0
        out.seek(0)
        err.seek(0)
        return Result(argv, t1 - t0, rss_kb, p.returncode, out.read(), err.read())


def sh(argv, data=None, check=True, timeout=None):
    """An untimed helper command; returns stdout as text."""
    r = subprocess.run(argv, input=data, capture_output=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.decode(errors='replace').strip()}")
    return r.stdout.decode(errors="replace")


def leftover_children():
    """Processes left behind by the command that just ended: as a child subreaper,
    this process inherits every orphaned descendant. Kills and reaps them (but our own
    long-running helpers, KEEP)."""
    left = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) in KEEP:
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.find("(") + 1 : stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[1]) == PID:
            left.append((int(d), comm, fields[0]))
    out = []
    for pid, comm, state in left:
        try:
            if state != "Z":
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass
        if state != "Z":
            out.append((pid, comm))
    return out


def cmdlines():
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                yield int(d), f.read()
        except OSError:
            continue


def proxies_for(ip):
    """docker-proxy processes that forward to this container address."""
    if not ip:
        return 0
    needle = b"\0-container-ip\0" + ip.encode() + b"\0"
    return sum(1 for _, cmd in cmdlines() if cmd.split(b"\0", 1)[0].endswith(b"docker-proxy") and needle in cmd)


def conmons_for(cid):
    """podman's conmon processes of this container (one per container)."""
    if not cid:
        return 0
    needle = cid.encode()
    return sum(1 for _, cmd in cmdlines() if cmd.split(b"\0", 1)[0].endswith(b"conmon") and needle in cmd)


def listening(proto):
    """(address, port) of the listening sockets (tcp) or bound unconnected ones (udp)."""
    out = []
    r = subprocess.run(["ss", "-Hln", "-t" if proto == "tcp" else "-u"], capture_output=True)
    for line in r.stdout.decode(errors="replace").splitlines():
        w = line.split()
        if len(w) >= 4:
            addr, _, port = w[3].rpartition(":")
            if port.isdigit():
                out.append((addr, int(port)))
    return out


def holders(proto, lo, hi):
    return sorted({p for _, p in listening(proto) if lo <= p <= hi})


# ---------------------------------------------------------------------------------
# statistics and the tables


def median(xs):
    return statistics.median(xs) if xs else None


def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    i = int(k)
    if i + 1 >= len(xs):
        return xs[-1]
    return xs[i] + (xs[i + 1] - xs[i]) * (k - i)


class Row:
    def __init__(self, case, group, target="info"):
        self.case = case
        self.group = group
        self.target = target
        self.berth = []  # ms per run
        self.docker = []  # the other side (docker, iptables, the baseline)
        self.ratios = []  # berth/other per pair
        self.rss = []  # MB per berth run
        self.berth_helpers = []
        self.docker_helpers = []
        self.errors = []
        self.notes = []
        self.check = None  # function(row) -> (passed: bool|None, why)
        self.unit = "ms"
        self.docker_label = "docker"

    def pair(self, b, d):
        self.berth.append(b)
        if d is not None:
            self.docker.append(d)
            if d > 0:
                self.ratios.append(b / d)

    def verdict(self):
        if self.errors:
            return False, "error: " + self.errors[0][:200]
        why = []
        ok = None
        unmeasured = False
        if self.check:
            ok, w = self.check(self)
            unmeasured = ok is None
            if w:
                why.append(w)
        if self.rss:
            if max(self.rss) >= RSS_LIMIT_MB:
                ok = False
                why.append(f"max RSS {max(self.rss):.1f} MB >= {RSS_LIMIT_MB:.0f} MB")
            elif ok is None and not unmeasured:
                ok = True
        if self.berth_helpers and max(self.berth_helpers) > 0:
            ok = False
            why.append(f"{max(self.berth_helpers)} helper processes")
        return ok, "; ".join(why)

    def to_json(self):
        ok, why = self.verdict()
        return {
            "case": self.case,
            "group": self.group,
            "unit": self.unit,
            "berth_median": median(self.berth),
            "other_median": median(self.docker),
            "compared_with": self.docker_label,
            "ratio_berth_over_other": median(self.ratios),
            "speedup": (1 / median(self.ratios)) if self.ratios and median(self.ratios) > 0 else None,
            "target": self.target,
            "pass": ok,
            "why": why,
            "berth_max_rss_mb": max(self.rss) if self.rss else None,
            "berth_helpers_max": max(self.berth_helpers) if self.berth_helpers else None,
            "other_helpers_max": max(self.docker_helpers) if self.docker_helpers else None,
            "berth_runs": self.berth,
            "other_runs": self.docker,
            "ratios": self.ratios,
            "rss_mb": self.rss,
            "errors": self.errors,
            "notes": self.notes,
        }


class PeerRow:
    """One case on one engine: berth, docker and podman in the same rounds. Speed-ups
    are ratios of medians (other / berth)."""

    def __init__(self, engine, case, op, target="info"):
        self.engine = engine
        self.case = case
        self.op = op
        self.target = target
        self.ms = {"berth": [], "docker": [], "podman": []}
        self.helpers = {"berth": [], "docker": [], "podman": []}
        self.rss = []
        self.errors = []
        self.cost = False  # a publish cost row (a difference of medians)

    def speedup(self, other):
        b, o = median(self.ms["berth"]), median(self.ms[other])
        if b is None or o is None:
            return None
        # a cost can come out at or below zero on a noisy host: count it as 1 ms
        return o / max(b, 1.0)

    def verdict(self):
        if self.errors:
            return False, "error: " + self.errors[0][:200]
        if self.target == "info":
            return None, ""
        got = [(o, self.speedup(o)) for o in ("docker", "podman") if self.speedup(o) is not None]
        if not got:
            return None, "not measured"
        bad = [f"only {s:.0f}x vs {o}" for o, s in got if s < SPEEDUP_TARGET]
        return (not bad), "; ".join(bad)

    def to_json(self):
        ok, why = self.verdict()
        return {
            "engine": self.engine,
            "case": self.case,
            "op": self.op,
            "target": self.target,
            "cost": self.cost,
            "median_ms": {k: median(v) for k, v in self.ms.items()},
            "speedup_vs_docker": self.speedup("docker"),
            "speedup_vs_podman": self.speedup("podman"),
            "pass": ok,
            "why": why,
            "runs_ms": self.ms,
            "helpers": self.helpers,
            "berth_rss_mb": self.rss,
            "errors": self.errors,
        }


def fmt_time(ms, unit="ms"):
    if ms is None:
        return "-"
    if unit != "ms":
        return f"{ms:.3g} {unit}"
    if abs(ms) >= 10000:
        return f"{ms / 1000:.1f} s"
    if abs(ms) >= 100:
        return f"{ms:.0f} ms"
    if abs(ms) >= 1:
        return f"{ms:.1f} ms"
    return f"{ms * 1000:.0f} µs"


def fmt_ratio(r):
    if r is None:
        return "-"
    if r < 0.01:
        return f"{r:.4f}"
    return f"{r:.3f}" if r < 1 else f"{r:.2f}"


def fmt_speed(s):
    if s is None:
        return "-"
    return f"{s:.0f}x" if s >= 10 else f"{s:.2f}x"


def render_table(head, lines):
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    fmt = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    return "\n".join([fmt(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [fmt(x) for x in lines])


def table(rows):
    head = ["case", "berth", "other", "ratio b/o", "target", "result", "max RSS", "helpers b/o", "n b/o"]
    lines = []
    for r in rows:
        ok, why = r.verdict()
        ratio = median(r.ratios)
        res = ("info" if r.target == "info" else "n/a") if ok is None else ("PASS" if ok else "FAIL")
        bh = max(r.berth_helpers) if r.berth_helpers else "-"
        dh = max(r.docker_helpers) if r.docker_helpers else "-"
        lines.append(
            [
                r.case,
                fmt_time(median(r.berth), r.unit),
                fmt_time(median(r.docker), r.unit) + ("" if r.docker_label == "docker" or not r.docker else f" ({r.docker_label})"),
                fmt_ratio(ratio),
                r.target,
                res + (f" ({why})" if why and res == "FAIL" else ""),
                f"{max(r.rss):.1f} MB" if r.rss else "-",
                f"{bh}/{dh}",
                f"{len(r.berth)}/{len(r.docker)}",
            ]
        )
    return render_table(head, lines)


def peers_table(rows):
    head = ["engine", "case", "op", "berth", "docker", "podman", "speed-up vs docker", "vs podman", "target", "result", "helpers b/d/p", "n b/d/p"]
    lines = []
    for r in rows:
        ok, why = r.verdict()
        res = ("info" if r.target == "info" else "n/a") if ok is None else ("PASS" if ok else "FAIL")
        h = "/".join(str(max(r.helpers[k])) if r.helpers[k] else "-" for k in ("berth", "docker", "podman"))
        lines.append(
            [
                r.engine,
                r.case,
                r.op,
                fmt_time(median(r.ms["berth"])),
                fmt_time(median(r.ms["docker"])),
                fmt_time(median(r.ms["podman"])),
                fmt_speed(r.speedup("docker")),
                fmt_speed(r.speedup("podman")),
                r.target,
                res + (f" ({why})" if why and res == "FAIL" else ""),
                h,
                "/".join(str(len(r.ms[k])) for k in ("berth", "docker", "podman")),
            ]
        )
    return render_table(head, lines)


# ---------------------------------------------------------------------------------
# the bench


class Life:
    """One container's run -d and rm -f."""

    def __init__(self, run, rm, helpers, rm_left, left):
        self.run = run
        self.rm = rm
        self.helpers = helpers  # left-behind processes + docker-proxy / conmon for it
        self.rm_helpers = len(rm_left)
        self.left = left + rm_left


class Bench:
    def __init__(self, args):
        self.args = args
        self.berth = args.berth
        self.docker = "docker"
        self.podman = shutil.which("podman") if not args.no_podman else None
        self.quick = args.quick
        self.reps = args.reps or (3 if self.quick else 5)
        self.rows = []
        self.peer_rows = []
        self.scaling = []
        self.existing = []
        self.watch = {}
        self.profiles = {}
        self.notes = []
        self.seq = 0
        self.templates = None
        self.engine_version = ""

    def name(self, what):
        self.seq += 1
        return f"{PREFIX}{what}-{self.seq}"

    def profiling(self):
        if self.quick:
            return bool(self.args.only and "profile" in self.args.only)
        return self.want("profile")

    def want(self, phase):
        if self.args.only:
            return phase in self.args.only
        return phase not in (self.args.skip or [])

    # -- one container's life: berth, docker or podman ----------------------------

    def argv(self, tool, *words):
        exe = {"berth": self.berth, "docker": self.docker, "podman": self.podman}[tool]
        return [exe, *words]

    def start(self, tool, name, ports, cmd=COMMAND):
        argv = self.argv(tool, "run", "-d", "--name", name, *ports, IMAGE, *cmd)
        if tool == "podman":
            # conmon double-forks: as our orphan it would be killed as left behind
            subreaper(False)
            try:
                r = timed(argv)
            finally:
                subreaper(True)
        else:
            r = timed(argv)
        left = leftover_children()
        helpers = len(left)
        if r.ok():
            if tool == "podman":
                helpers += conmons_for(r.out.decode().strip())
            else:
                helpers += proxies_for(container_ip(name))
        return r, helpers, left

    def remove(self, tool, name):
        if tool == "podman":
            subreaper(False)
            try:
                r = timed(self.argv(tool, "rm", "-f", "-t", "0", name))
            finally:
                subreaper(True)
        else:
            r = timed(self.argv(tool, "rm", "-f", name))
        return r, leftover_children()

    def life(self, tool, what, ports, between=None):
        """Start and remove one container. Returns (Life, None) or (None, error).
        `between(name, run_result)` runs (untimed) while it runs."""
        name = self.name(what)
        r, helpers, left = self.start(tool, name, ports)
        if not r.ok():
            self.force_remove(name)
            return None, f"{tool}: {r.why()}"
        if between:
            try:
                between(name, r)
            except Exception as e:  # a check failing must not leave the container
                self.notes.append(f"{what}: check failed: {e}")
        rm, rm_left = self.remove(tool, name)
        if not rm.ok():
            self.force_remove(name)
            return None, f"{tool}: {rm.why()}"
        return Life(r, rm, helpers, rm_left, left), None

    def force_remove(self, name):
        subprocess.run([self.berth, "rm", "-f", name], capture_output=True)
        subprocess.run([self.docker, "rm", "-f", name], capture_output=True)
        if self.podman:
            subreaper(False)
            try:
                subprocess.run([self.podman, "rm", "-f", "-t", "0", name], capture_output=True)
            finally:
                subreaper(True)

    # -- flat in port count --------------------------------------------------------

    def flat_cases(self):
        cases = [("single port", 1, ["-p", "5100:5100"], ["--expose", "5100"], "-p 5100:5100", "tcp", 5100, 5100)]
        big = holders("tcp", 5100, 32700)
        if big:
            self.notes.append(f"flat: 5100-32700/tcp is not free here (listening: {big[:10]}): case left out")
        else:
            cases.append(("range 27,601", 27601, ["-p", "5100-32700:5100-32700"], ["--expose", "5100-32700"], "-p 5100-32700:5100-32700", "tcp", 5100, 32700))
        for proto in ("tcp", "udp"):
            held = holders(proto, 1024, 65535)
            if not held:
                sfx = "" if proto == "tcp" else "/udp"
                cases.append((f"full range 64,512 ({proto})", 64512, ["-p", f"1024-65535:1024-65535{sfx}"], ["--expose", f"1024-65535{sfx}"], f"-p 1024-65535:1024-65535{sfx}", proto, 1024, 65535))
                break
            self.notes.append(f"flat: 1024-65535/{proto} is not free here (listening on {held[:8]}{' ...' if len(held) > 8 else ''})")
        else:
            self.notes.append("flat: the full range is free in neither protocol: case left out")
        return cases

    def bench_flat(self):
        cases = self.flat_cases()
        reps = self.reps if self.quick else max(self.reps, 7)
        log(f"flat: {[c[0] for c in cases]}, {reps} rounds (port-less, --expose, -p)")
        stats = {}
        checks = {}

        def check_between(label, n, proto, lo, hi):
            def f(name, r):
                cid = r.out.decode().strip()
                got = sh([self.docker, "inspect", "-f", "{{len .Config.ExposedPorts}}|{{index .Config.Labels \"io.berth.ports\"}}", name]).strip()
                exposed, _, label_text = got.partition("|")
                chain = f"BERTH-{cid[:12]}"
                rules = [x for x in sh(["iptables", "-w", "-t", "nat", "-S", chain], check=False).splitlines() if x.startswith("-A ")]
                checks[label] = {
                    "exposed_ports_in_inspect": int(exposed) if exposed.isdigit() else exposed,
                    "label_bytes": len(label_text),
                    "label": label_text[:300],
                    "dnat_rules_in_chain": len(rules),
                    "dnat_rule": rules[0] if rules else "",
                }
            return f

        for rep in range(reps):
            for label, n, publish, expose, shown, proto, lo, hi in cases:
                s = stats.setdefault(label, {"none": [], "expose": [], "publish": [], "err": [], "rss": [], "helpers": []})
                order = [("none", []), ("expose", expose), ("publish", publish)]
                # alternate the order, so that neither side always runs first
                if rep % 2:
                    order = order[::-1]
                for kind, flags in order:
                    between = check_between(label, n, proto, lo, hi) if kind == "publish" and label not in checks else None
                    life, err = self.life("berth", f"flat-{kind}", flags, between)
                    if life is None:
                        s["err"].append(err)
                        continue
                    s[kind].append(life)
                    if kind == "publish":
                        s["rss"] += [life.run.rss_mb, life.rm.rss_mb]
                        s["helpers"].append(life.helpers + life.rm_helpers)
        for label, n, publish, expose, shown, proto, lo, hi in cases:
            s = stats[label]
            pairs = list(zip(s["publish"], s["expose"]))
            for op in ("run -d", "rm -f"):
                get = (lambda l: l.run.ms) if op == "run -d" else (lambda l: l.rm.ms)
                row = Row(f"{op}, {shown} vs --expose {expose[1]} ({n:,} ports)", "flat", f"<= {PORTS_FLAT_LIMIT}x of --expose")
                row.docker_label = "--expose"
                for p, e in pairs:
                    row.pair(get(p), get(e))
                row.rss = s["rss"]
                row.berth_helpers = s["helpers"]
                row.errors = s["err"][:1]
                row.check = ratio_check(PORTS_FLAT_LIMIT, "of --expose")
                self.rows.append(row)
            # the engine's own cost of N exposed ports, and berth's part beside it
            eng = Row(f"engine's own cost of {n:,} exposed ports (run -d --expose minus port-less run -d)", "flat")
            eng.docker_label = "-"
            eng.berth = [e.run.ms - z.run.ms for e, z in zip(s["expose"], s["none"])]
            own = Row(f"berth's publishing work for {n:,} ports (run -d -p minus run -d --expose)", "flat")
            own.docker_label = "-"
            own.berth = [p.run.ms - e.run.ms for p, e in pairs]
            if label in checks:
                c = checks[label]
                own.notes.append(
                    f"while it ran: docker inspect showed {c['exposed_ports_in_inspect']} exposed ports; "
                    f"label io.berth.ports {c['label_bytes']} bytes ({c['label'][:120]}); "
                    f"{c['dnat_rules_in_chain']} DNAT rule(s) in its chain: {c['dnat_rule'][:200]}"
                )
                if n > 1 and c["dnat_rules_in_chain"] != 1:
                    own.errors.append(f"{c['dnat_rules_in_chain']} DNAT rules for one range (want 1)")
            self.rows += [eng, own]
        self.flat_checks = checks

    # -- flat in rules present -----------------------------------------------------

    def bench_existing(self):
        """One more container when 1,000 other containers' rules exist, against none.
        The rules are loaded as fakes (berth's exact lines from `berth run --dry-run`,
        a chain per container, fake ids and addresses, no containers behind them), in
        steps, so that the growth shows; then removed."""
        log("existing rules: making sure berth's base chains exist")
        _, err = self.life("berth", "anchor", ["-p", "20000:20000"])
        if err:
            raise RuntimeError(err)
        save = sh(["iptables-save"])
        for chain in (":BERTH ", ":BERTH-POSTROUTING ", ":BERTH-FORWARD ", ":BERTH-RAW "):
            if chain not in save:
                raise RuntimeError(f"berth's base chain {chain.strip(': ')} is missing after a berth run")
        if watcher_runs(self.berth):
            self.notes.append(
                "existing rules: a berth watch of someone else's runs on this host; its passes remove the fake "
                "rules as orphans (blocks disturbed so are repeated)"
            )
        cases = [
            ("1 port", ["-p", "20000:20000"]),
            (f"{EXISTING_SEPARATE} separate -p", separate_flags(EXISTING_SEPARATE)),
        ]
        steps = (1000,) if self.quick else (250, 500, 1000)
        reps = self.reps
        # samples[(what, label)][containers already there] = [ms, ...]
        samples = {}
        rss = {}

        def block(existing):
            there = f"{existing} containers' rules there" if existing >= 0 else "the fake rules removed again"
            log(f"existing rules: {reps} runs per case, {there}")
            got = {}
            for _ in range(reps):
                for label, ports in cases:
                    life, err = self.life("berth", "e", ports)
                    if life is None:
                        got.setdefault(("error", label), []).append(err)
                        continue
                    got.setdefault(("run -d", label), []).append(life.run.ms)
                    got.setdefault(("rm -f", label), []).append(life.rm.ms)
                    rss.setdefault(label, []).extend([life.run.rss_mb, life.rm.rss_mb])
                    helpers = life.helpers + life.rm_helpers
                    rss.setdefault(("helpers", label), []).append(helpers)
            return got

        def keep(existing, got):
            for key, xs in got.items():
                samples.setdefault(key, {}).setdefault(existing, []).extend(xs)

        keep(0, block(0))
        loaded = 0
        disturbed = 0
        counts = {}
        try:
            for step in steps:
                # the fakes are orphans: a watcher's or a `berth nat sync`'s pass may
                # remove them. Load exactly `step` containers' rules, check that they
                # are all still there after the block, else repeat it.
                for attempt in range(3):
                    remove_fakes()
                    text, count = fake_containers(self.templates, 0, step)
                    with firewall_lock():
                        t = timed(["iptables-restore", "--noflush", "--wait"], data=text.encode())
                    if not t.ok():
                        raise RuntimeError(f"loading the fake rules: {t.why()}")
                    counts[step] = count
                    log(f"existing rules: loaded {count['rules']} rules and {count['chains']} chains of fake containers 0..{step - 1} ({t.ms:.0f} ms)")
                    got = block(step)
                    if step == steps[-1] and self.profiling():
                        self.profile_case(f"run -d / rm -f, {cases[1][0]}, {step} containers' rules there", cases[1][1])
                    still = count_fakes()
                    if still == count["rules"]:
                        break
                    disturbed += 1
                    log(f"existing rules: only {still} of the {count['rules']} fake rules are left (removed by another process): repeating")
                keep(step, got)
                loaded = step
                if step == steps[-1]:
                    self.existing_save_ms = median([timed(["iptables-save"], rss=False).ms for _ in range(5)])
        finally:
            t0 = time.perf_counter()
            n = remove_fakes()
            log(f"existing rules: removed {n} fake rules ({(time.perf_counter() - t0) * 1000:.0f} ms)")
        self.existing_save_empty_ms = median([timed(["iptables-save"], rss=False).ms for _ in range(5)])
        if disturbed:
            self.notes.append(
                f"existing rules: {disturbed} block(s) of runs were repeated because another process "
                f"(a watcher's or a `berth nat sync`'s pass) removed fake rules meanwhile"
            )
        c = counts.get(loaded, {"rules": 0, "chains": 0})
        self.notes.append(
            f"'with 1,000 containers' rules': {loaded} fake containers, {c['rules']} rules and {c['chains']} chains "
            f"(berth's exact lines for -p 30xxx:80 from `berth run --dry-run`: a chain BERTH-<id> with the DNAT, the "
            f"jump to it, one hairpin, one FORWARD and one raw rule; fake ids {FAKE_PREFIX}xxxx, addresses 172.30.x.y), "
            f"loaded with iptables-restore --noflush in steps of {', '.join(map(str, steps))} containers, removed "
            f"afterwards; no real containers behind them. 'none there': the runs before loading and after removal, pooled. "
            f"iptables-save (all tables) took {fmt_time(getattr(self, 'existing_save_ms', None))} with them, "
            f"{fmt_time(self.existing_save_empty_ms)} without"
        )
        keep(-1, block(-1))  # after removal: none there again
        for label, _ in cases:
            for what in ("run -d", "rm -f"):
                by = samples.get((what, label), {})
                none = by.get(0, []) + by.get(-1, [])
                row = Row(f"{what}, {label}, with {loaded:,} containers' rules", "existing", f"<= {RULES_FLAT_LIMIT}x of none")
                row.docker_label = "none there"
                row.check = ratio_check(RULES_FLAT_LIMIT, "with the rules there")
                row.berth = by.get(loaded, [])
                row.docker = none
                base = median(none)
                if base:
                    row.ratios = [x / base for x in row.berth]
                row.rss = rss.get(label, [])
                row.berth_helpers = rss.get(("helpers", label), [0])
                row.errors = samples.get(("error", label), {}).get(loaded, [])[:1]
                self.rows.append(row)
                self.existing.append(
                    {
                        "case": f"{what}, {label}",
                        "ms_by_containers_there": {str(k): median(v) for k, v in sorted(by.items()) if k >= 0},
                        "ms_none_after_removal": median(by.get(-1, [])),
                    }
                )

    # -- nat ls vs iptables -t nat -nL ----------------------------------------------

    def bench_nat_ls(self):
        ns = f"{PREFIX}nat"
        sh(["ip", "netns", "add", ns])
        orig = os.open("/proc/self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        try:
            if libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the bench namespace")
            try:
                for n in (100, 1000, 10000):
                    self.nat_ls_case(n)
            finally:
                if libc.setns(orig, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back to the host namespace")
        finally:
            os.close(orig)
            os.close(target)
            sh(["ip", "netns", "del", ns], check=False)

    def nat_ls_case(self, n):
        text, count = nat_table(self.templates, n)
        r = timed(["iptables-restore"], data=text.encode())
        if not r.ok():
            raise RuntimeError(f"loading {n} rules into the bench namespace: {r.why()}")
        row = Row(f"nat ls, {count:,} nat rules (own netns)", "nat-ls", f"<= {NATLS_LIMIT}x, identical output")
        row.docker_label = "iptables -t nat -nL"
        same = True
        reps = max(self.reps, 9) if not self.quick else self.reps
        log(f"nat ls: {count} rules, {reps} runs each")
        b = i = None
        for k in range(reps):
            # alternate who goes first
            order = [("b", [self.berth, "nat", "ls"]), ("i", ["iptables", "-t", "nat", "-nL"])]
            if k % 2:
                order = order[::-1]
            got = {w: timed(argv, rss=False) for w, argv in order}
            b, i = got["b"], got["i"]
            if not b.ok() or not i.ok():
                row.errors.append((b if not b.ok() else i).why())
                break
            row.pair(b.ms, i.ms)
            row.rss.append(timed([self.berth, "nat", "ls"]).rss_mb)
            row.berth_helpers.append(len(leftover_children()))
            if b.out != i.out:
                same = False
                diff = first_difference(b.out, i.out)
                if diff not in row.notes:
                    row.notes.append(diff)
        # the child berth runs, on its own
        save = median([timed(["iptables-save", "-c", "-t", "nat"], rss=False).ms for _ in range(5)])
        row.notes.append(f"iptables-save -c -t nat alone: {fmt_time(save)} (median of 5)")

        def check(row):
            if not same:
                return False, "output differs: " + (row.notes[0] if row.notes else "")
            r = median(row.ratios)
            return r <= NATLS_LIMIT, "" if r <= NATLS_LIMIT else f"ratio {r:.2f} > {NATLS_LIMIT}"

        row.check = check
        if not same and b is not None:
            save_dir = os.path.dirname(self.args.json)
            with open(os.path.join(save_dir, f"nat-ls-{count}.berth"), "wb") as f:
                f.write(b.out)
            with open(os.path.join(save_dir, f"nat-ls-{count}.iptables"), "wb") as f:
                f.write(i.out)
        if n == 100 and self.profiling():
            self.profile_argv(f"nat ls, {count} nat rules", [self.berth, "nat", "ls"])
        self.rows.append(row)

    # -- berth / docker / podman, on each engine version ----------------------------

    def peer_cases(self):
        cases = [
            ("single port", ["-p", "20000:20000"], True),
            ("range 100", range_flags(100), True),
            ("range 1000", range_flags(1000), self.args.docker_big),
            (f"{PEER_SEPARATE} separate -p", separate_flags(PEER_SEPARATE), True),
        ]
        if self.quick:
            cases = [c for c in cases if c[0] in ("single port", "range 100")]
        if self.args.cases:
            pattern = re.compile(self.args.cases)
            cases = [c for c in cases if pattern.search(c[0])]
        return cases

    def bench_peers(self):
        versions = ["20.10"] if self.quick or self.args.no_versions else ["20.10", "28.5.2"]
        try:
            for i, v in enumerate(versions):
                t0 = time.time()
                try:
                    switch_engine(v)
                except RuntimeError as e:
                    row = PeerRow(v, "engine", "start")
                    row.errors.append(str(e))
                    self.peer_rows.append(row)
                    log(f"peers: cannot start dockerd {v}: {e}")
                    continue
                self.docker = docker_cli_for(v)
                self.engine_version = sh([self.docker, "version", "--format", "{{.Server.Version}}"], check=False).strip()
                log(f"peers: dockerd {self.engine_version} ({self.docker}), switched in {time.time() - t0:.0f} s")
                # podman does not depend on the engine: once is enough (the first)
                self.peers_on(self.engine_version or v, with_podman=(i == 0 and self.podman is not None))
        finally:
            self.docker = "docker"
            # always back to the system's engine, whatever happened
            try:
                switch_engine("20.10")
            except RuntimeError as e:
                self.notes.append(f"peers: could not switch back to dockerd 20.10: {e}")
                log(f"peers: could not switch back to dockerd 20.10: {e}")

    def peers_on(self, engine, with_podman):
        tools = ["berth", "docker"] + (["podman"] if with_podman else [])
        for label, ports, docker_too in self.peer_cases():
            n_ports = count_ports(ports)
            separate = label.endswith("separate -p")
            slow = separate or n_ports >= 1000
            reps = self.reps
            if slow and not self.quick:
                reps = min(self.reps, self.args.slow_reps)
            here = [t for t in tools if t != "docker" or docker_too]
            log(f"peers ({engine}): {label}: {reps} rounds of {', '.join(here)} (each with a port-less run)")
            target = f">= {SPEEDUP_TARGET:.0f}x" if separate else "info"
            run = PeerRow(engine, label, "run -d")
            rm = PeerRow(engine, label, "rm -f")
            run_cost = PeerRow(engine, label, "publish cost: run -d minus port-less run -d", target)
            rm_cost = PeerRow(engine, label, "removal cost: rm -f minus port-less rm -f", target)
            run_cost.cost = rm_cost.cost = True
            base = {t: [] for t in here}
            for rep in range(reps):
                for tool in here:
                    z, _ = self.life(tool, "peer-none", [])
                    if z is not None:
                        base[tool].append(z)
                    t0 = time.time()
                    life, err = self.life(tool, f"peer-{tool}", ports)
                    if life is None:
                        run.errors.append(err)
                        continue
                    if time.time() - t0 > 10:
                        log(f"  {tool} {label}: run -d {life.run.wall:.1f} s, rm -f {life.rm.wall:.1f} s, {life.helpers} helpers (round {rep + 1})")
                    run.ms[tool].append(life.run.ms)
                    rm.ms[tool].append(life.rm.ms)
                    run.helpers[tool].append(life.helpers)
                    rm.helpers[tool].append(life.rm_helpers)
                    if tool == "berth":
                        run.rss.append(life.run.rss_mb)
                        rm.rss.append(life.rm.rss_mb)
            for tool in here:
                zr = median([z.run.ms for z in base[tool]])
                zm = median([z.rm.ms for z in base[tool]])
                if zr is not None and run.ms[tool]:
                    run_cost.ms[tool] = [x - zr for x in run.ms[tool]]
                    rm_cost.ms[tool] = [x - zm for x in rm.ms[tool]]
            self.peer_rows += [run, rm, run_cost, rm_cost]

    # -- ps and --version ----------------------------------------------------------

    def bench_ps(self):
        n = 20 if self.quick else 100
        n_berth = n // 10
        n_docker_ports = n // 10
        log(f"ps: creating {n} containers ({n_berth} published by berth, {n_docker_ports} by docker)")
        names = []
        for i in range(n_berth):
            name = f"{PREFIX}ps-b{i}"
            r = timed([self.berth, "run", "-d", "--name", name, "-p", f"{20000 + i}:80", IMAGE, *COMMAND])
            if not r.ok():
                raise RuntimeError(r.why())
            names.append(name)
        plain = [["docker", "run", "-d", "--name", f"{PREFIX}ps-d{i}", "-p", f"{30000 + i}:80", IMAGE, *COMMAND] for i in range(n_docker_ports)]
        plain += [["docker", "run", "-d", "--name", f"{PREFIX}ps-{i}", IMAGE, *COMMAND] for i in range(n - n_berth - n_docker_ports)]
        names += [a[4] for a in plain]
        parallel(plain, 4)
        leftover_children()
        try:
            row = Row(f"ps, {n} running containers", "ps", "info")
            for _ in range(self.reps):
                b = timed([self.berth, "ps"], rss=False)
                d = timed(["docker", "ps"], rss=False)
                if not b.ok() or not d.ok():
                    row.errors.append((b if not b.ok() else d).why())
                    break
                row.pair(b.ms, d.ms)
                row.berth_helpers.append(len(leftover_children()))
                row.rss.append(timed([self.berth, "ps"]).rss_mb)
                bl, dl = len(b.out.splitlines()), len(d.out.splitlines())
                if bl != dl:
                    row.notes.append(f"berth ps printed {bl} lines, docker ps {dl}")
            self.rows.append(row)
        finally:
            log(f"ps: removing the {n} containers")
            subprocess.run([self.berth, "rm", "-f", *names[:n_berth]], capture_output=True)
            parallel([["docker", "rm", "-f", x] for x in names[n_berth:]], 4)
            leftover_children()

    def bench_version(self):
        row = Row("--version (start-up)", "startup", "info")
        row.docker_label = "docker --version"
        for _ in range(max(self.reps, 10)):
            b = timed([self.berth, "--version"], rss=False)
            d = timed(["docker", "--version"], rss=False)
            row.pair(b.ms, d.ms)
            row.rss.append(timed([self.berth, "--version"]).rss_mb)
            row.berth_helpers.append(len(leftover_children()))
        self.rows.append(row)
        wrapped = median([timed(["/bin/true"]).ms for _ in range(10)])
        bare = median([timed(["/bin/true"], rss=False).ms for _ in range(10)])
        self.notes.append(
            f"run -d / rm -f times (every side) include GNU time, which takes the max RSS: "
            f"{wrapped - bare:.1f} ms per command here (/bin/true: {wrapped:.1f} ms wrapped, {bare:.1f} ms bare); "
            f"nat ls, ps and --version are timed bare, their RSS from separate runs"
        )

    # -- scaling -------------------------------------------------------------------

    def bench_scaling(self):
        if self.quick:
            sizes = {"range": (1, 1000, 27601), "separate": (10, 300)}
        else:
            sizes = {"range": (1, 10, 100, 1000, 10000, 27601), "separate": (10, 100, 300, 1000)}
        reps = self.reps
        log(f"scaling in N: {sizes}, {reps} runs each")
        series = {}
        for rep in range(reps):
            for kind, ns in sizes.items():
                for n in ns:
                    ports = range_flags(n) if kind == "range" else separate_flags(n)
                    life, err = self.life("berth", f"s{n}", ports)
                    s = series.setdefault((kind, n), {"start": [], "rm": [], "rss": [], "helpers": 0, "errors": []})
                    if life is None:
                        s["errors"].append(err)
                        continue
                    s["start"].append(life.run.ms)
                    s["rm"].append(life.rm.ms)
                    s["rss"] += [life.run.rss_mb, life.rm.rss_mb]
                    s["helpers"] = max(s["helpers"], life.helpers, life.rm_helpers)
        for (kind, n), s in sorted(series.items()):
            self.scaling.append(
                {
                    "kind": kind,
                    "ports": n,
                    "run_ms": median(s["start"]),
                    "rm_ms": median(s["rm"]),
                    "max_rss_mb": max(s["rss"]) if s["rss"] else None,
                    "helpers_max": s["helpers"],
                    "runs": len(s["start"]),
                    "errors": s["errors"],
                }
            )

    # -- berth watch -----------------------------------------------------------------

    def bench_watch(self):
        cycles = 10 if self.quick else self.args.watch_cycles
        idle_s = 10 if self.quick else 60
        ours = None
        out_path = os.path.join(os.path.dirname(os.path.abspath(self.args.json)), "watch.log")
        if watcher_runs(self.berth):
            pid = watcher_pid()
            self.notes.append(f"watch: a berth watch of someone else's runs (pid {pid}): measured through it")
        else:
            log("watch: starting berth watch --format json")
            env = dict(os.environ)
            env.pop("BERTH_WATCH", None)
            out = open(out_path, "w")
            ours = subprocess.Popen([self.berth, "watch", "--format", "json"], stdout=out, stderr=out, env=env)
            KEEP.add(ours.pid)
            pid = ours.pid
            deadline = time.time() + 15
            while not watcher_runs(self.berth):
                if ours.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"berth watch did not come up: {open(out_path).read()[-400:]}")
                time.sleep(0.1)
        mon = Monitor()
        name = self.name("watch")
        try:
            r = timed([self.berth, "run", "-d", "--name", name, "-p", "20000:20000", IMAGE, *COMMAND])
            if not r.ok():
                raise RuntimeError(r.why())
            cid = r.out.decode().strip()
            chain = f"BERTH-{cid[:12]}"
            events = Events(self.docker, cid)
            time.sleep(1.0)
            log(f"watch: {cycles} cycles of docker stop -t 0 / docker start, chain {chain}")
            gone, present, gone_cmd, present_cmd, lost = [], [], [], [], 0
            for k in range(cycles):
                for verb, want, store, store_cmd, ev in (
                    ("stop", "gone", gone, gone_cmd, "die"),
                    ("start", "present", present, present_cmd, "start"),
                ):
                    since = time.time()
                    c = subprocess.run([self.docker, verb, *(["-t", "0"] if verb == "stop" else []), name], capture_output=True)
                    if c.returncode != 0:
                        raise RuntimeError(f"docker {verb}: {c.stderr.decode().strip()}")
                    at = mon.wait(chain, want, since, timeout=10)
                    evt = events.wait(ev, since, timeout=5)
                    if at is None:
                        lost += 1
                        continue
                    if evt is not None:
                        store.append((at - evt) * 1000)
                    store_cmd.append((at - since) * 1000)
            # idle: the container runs and is published; nothing happens for idle_s
            time.sleep(2)
            s0, t0 = proc_ticks(pid), time.time()
            log(f"watch: idle for {idle_s} s")
            time.sleep(idle_s)
            s1, t1 = proc_ticks(pid), time.time()
            hz = os.sysconf("SC_CLK_TCK")
            cpu = (s1 - s0) / hz / (t1 - t0) * 100 if s0 is not None and s1 is not None else None
            st = proc_status(pid)
            self.watch = {
                "cycles": cycles,
                "lost": lost,
                "gone_after_die_ms": stats_of(gone),
                "present_after_start_ms": stats_of(present),
                "gone_after_stop_command_ms": stats_of(gone_cmd),
                "present_after_start_command_ms": stats_of(present_cmd),
                "idle_seconds": round(t1 - t0, 1),
                "idle_cpu_percent": cpu,
                "cpu_ticks": (s0, s1),
                "rss_mb": st.get("VmRSS"),
                "peak_rss_mb": st.get("VmHWM"),
                "threads": st.get("Threads"),
                "ours": ours is not None,
                "self_reported_latency_ms": stats_of(self_reported(out_path, cid[:12])) if ours else None,
            }
            events.close()
        finally:
            mon.close()
            subprocess.run([self.berth, "rm", "-f", name], capture_output=True)
            if ours is not None:
                ours.send_signal(signal.SIGTERM)
                try:
                    ours.wait(10)
                except subprocess.TimeoutExpired:
                    ours.kill()
                    ours.wait()
                KEEP.discard(ours.pid)
            leftover_children()
        w = self.watch
        for label, key, lim in (
            ("berth watch: rules gone after the container's die event (docker stop -t 0)", "gone_after_die_ms", None),
            ("berth watch: rules there after the container's start event (docker start)", "present_after_start_ms", None),
        ):
            row = Row(label, "watch")
            row.docker_label = "-"
            st = w[key]
            row.berth = [st["p50"]] if st else []
            if st:
                row.notes.append(f"p50 {fmt_time(st['p50'])}, p99 {fmt_time(st['p99'])}, max {fmt_time(st['max'])} over {st['n']} cycles")
            self.rows.append(row)

    # -- profiles --------------------------------------------------------------------

    def profile_argv(self, label, argv, data=None):
        """strace timeline of one command: its children and its engine requests."""
        path = os.path.join(os.path.dirname(os.path.abspath(self.args.json)), "profile-" + re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") + ".strace")
        trace = ["strace", "-f", "-ttt", "-T", "-s", "96", "-o", path,
                 "-e", "trace=execve,write,writev,sendto,sendmsg,read,recvfrom,recvmsg,exit_group"]
        t0 = time.perf_counter()
        r = subprocess.run(trace + argv, input=data, capture_output=True)
        wall = (time.perf_counter() - t0) * 1000
        try:
            prof = strace_timeline(path)
        except Exception as e:  # a profile is extra: never fail the bench for it
            prof = {"error": str(e)}
        prof["wall_ms_traced"] = wall
        prof["rc"] = r.returncode
        self.profiles[label] = prof
        return r

    def profile_case(self, label, ports):
        if not shutil.which("strace"):
            return
        name = self.name("prof")
        self.profile_argv(f"{label}: run -d", [self.berth, "run", "-d", "--name", name, *ports, IMAGE, *COMMAND])
        self.profile_argv(f"{label}: rm -f", [self.berth, "rm", "-f", name])
        self.force_remove(name)
        leftover_children()

    def bench_profile(self):
        if not shutil.which("strace"):
            self.notes.append("profile: no strace")
            return
        log("profile: strace timelines")
        self.profile_case("-p 5100-32700:5100-32700", ["-p", "5100-32700:5100-32700"])
        self.profile_case("--expose 5100-32700", ["--expose", "5100-32700"])
        self.profile_case("port-less", [])

    # -- micro-benchmarks (criterion) -------------------------------------------------

    def bench_micro(self):
        target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
        argv = ["cargo", "bench", "--quiet", "--bench", "pure", "--", "--noplot"]
        if self.quick:
            argv += ["--warm-up-time", "0.5", "--measurement-time", "1", "--sample-size", "10"]
        log("micro-benchmarks: " + " ".join(argv))
        r = subprocess.run(argv, cwd=ROOT, capture_output=True)
        if r.returncode != 0:
            row = Row("micro-benchmarks (cargo bench --bench pure)", "micro")
            row.errors.append(r.stderr.decode(errors="replace").strip()[-300:])
            self.rows.append(row)
            return
        crit = os.path.join(target, "criterion")
        for bench in MICRO:
            path = os.path.join(crit, *bench.split("/"), "new", "estimates.json")
            row = Row(f"micro: {bench}", "micro", "info")
            row.docker_label = "-"
            try:
                with open(path) as f:
                    est = json.load(f)
                row.berth.append(est["median"]["point_estimate"] / 1e6)
            except (OSError, KeyError, ValueError) as e:
                row.errors.append(f"no criterion estimate at {path}: {e}")
            self.rows.append(row)

    # -- the whole run ---------------------------------------------------------------

    def warm_up(self):
        log("warm-up: one berth, one docker and one podman container")
        for tool in ("berth", "docker", "podman"):
            if tool == "podman" and not self.podman:
                continue
            _, err = self.life(tool, "warm", ["-p", "20000:20000"])
            if err:
                log(f"warning: warm-up: {err}")
                self.notes.append(f"warm-up failed (the runs go on): {err[:300]}")

    def run(self):
        self.templates = templates(self.berth)
        self.warm_up()
        phases = [
            ("version", self.bench_version),
            ("flat", self.bench_flat),
            ("existing", self.bench_existing),
            ("natls", self.bench_nat_ls),
            ("peers", self.bench_peers),
            ("ps", self.bench_ps),
            ("scaling", self.bench_scaling),
            ("watch", self.bench_watch),
            ("profile", self.bench_profile),
            ("micro", self.bench_micro),
        ]
        for name, fn in phases:
            if not self.want(name):
                continue
            if self.quick and name in ("micro", "ps", "profile") and not (self.args.only and name in self.args.only):
                continue
            t0 = time.time()
            try:
                fn()
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                row = Row(f"{name}: phase failed", name)
                row.errors.append(str(e))
                self.rows.append(row)
                log(f"{name}: FAILED: {e}")
            log(f"{name}: {time.time() - t0:.0f} s")


def ratio_check(limit, words):
    def check(row):
        r = median(row.ratios)
        if r is None:
            return None, ""
        return r <= limit, "" if r <= limit else f"{r:.2f}x {words}"

    return check


def stats_of(xs):
    if not xs:
        return None
    return {"n": len(xs), "p50": pct(xs, 0.5), "p99": pct(xs, 0.99), "max": max(xs), "min": min(xs), "mean": statistics.mean(xs)}


MICRO = [
    "portspec/parse_all_10k_specs",
    "plan/plan_10k_bindings",
    "plan/plan_and_restore_text_10k_bindings",
    "render/list_nL_10k_rules",
    "render/list_nvL_10k_rules",
]


def range_flags(n):
    """-p A-B:A-B of n ports: from 20000 up to 1000 ports, from 5100 beyond."""
    first = 20000 if n <= 1000 else 5100
    last = first + n - 1
    return ["-p", f"{first}:{first}"] if n == 1 else ["-p", f"{first}-{last}:{first}-{last}"]


def separate_flags(n):
    """n separate -p flags, container ports 20000.. and host ports a permutation of the
    same (7*j mod n), so that no two bindings are adjacent on both sides: berth cannot
    merge them into ranges."""
    if n == 1:
        return ["-p", "20000:20000"]
    assert n % 7 != 0
    out = []
    for j in range(n):
        out += ["-p", f"{20000 + (7 * j) % n}:{20000 + j}"]
    return out


def count_ports(flags):
    n = 0
    for f in flags[1::2]:
        host = f.split(":")[0]
        a, _, b = host.partition("-")
        n += (int(b) - int(a) + 1) if b else 1
    return n


def parallel(cmds, width):
    running = []
    for argv in cmds:
        while len(running) >= width:
            running.pop(0).wait()
        running.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for p in running:
        p.wait()


def first_difference(a, b):
    al, bl = a.split(b"\n"), b.split(b"\n")
    for i, (x, y) in enumerate(zip(al, bl)):
        if x != y:
            return f"line {i + 1}: berth {x.decode(errors='replace')!r} vs iptables {y.decode(errors='replace')!r}"
    return f"berth printed {len(al)} lines, iptables {len(bl)}"


def container_ip(name):
    r = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name],
        capture_output=True,
    )
    return r.stdout.decode().split()[0] if r.returncode == 0 and r.stdout.split() else ""


# ---------------------------------------------------------------------------------
# engines: the version matrix (scripts/lib/versions.sh)


def versions_sh(*words, timeout=240):
    """Run a function of scripts/lib/versions.sh (after setup.sh) in bash."""
    script = 'source "$BERTH_ROOT/scripts/lib/setup.sh"; source "$BERTH_ROOT/scripts/lib/versions.sh"; "$@"'
    env = dict(os.environ, BERTH_ROOT=ROOT)
    return subprocess.run(["bash", "-c", script, "versions", *words], capture_output=True, env=env, timeout=timeout)


def server_version(docker="docker"):
    r = subprocess.run([docker, "version", "--format", "{{.Server.Version}}"], capture_output=True, timeout=20)
    return r.stdout.decode().strip() if r.returncode == 0 else ""


def switch_engine(v):
    got = server_version()
    if got == v or got.startswith(v + ".") or got.startswith(v + "+"):
        return
    log(f"switching dockerd {got or '(none)'} -> {v} (scripts/lib/versions.sh start_dockerd_version)")
    if v != "20.10":
        # the marker tells scripts/bench to switch back even if this process dies
        open(SWITCH_MARKER, "w").write(v + "\n")
    # not as a subreaper: the dockerd it leaves running must not become a leftover
    # child of ours (leftover_children would kill it after the next command)
    subreaper(False)
    try:
        r = versions_sh("start_dockerd_version", v)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"start_dockerd_version {v}: timed out")
    finally:
        subreaper(True)
    if r.returncode != 0:
        raise RuntimeError(f"start_dockerd_version {v}: {r.stderr.decode(errors='replace').strip()[-400:]}")
    if v == "20.10":
        try:
            os.unlink(SWITCH_MARKER)
        except OSError:
            pass
    # the engine came back without the image? (it shares /var/lib/docker)
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode != 0:
        raise RuntimeError(f"dockerd {v} has no image {IMAGE}")


SWITCH_MARKER = os.environ.get("BERTH_BENCH_SWITCHED") or "/run/berth-bench-switched-engine"


def docker_cli_for(v):
    if v == "20.10":
        return "docker"
    r = versions_sh("docker_28_path", timeout=60)
    d = r.stdout.decode().strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else ""
    cli = os.path.join(d, "docker") if d else ""
    return cli if cli and os.access(cli, os.X_OK) else "docker"


# ---------------------------------------------------------------------------------
# berth watch: rule events and engine events, /proc


def end_child(p):
    """Stop a long-running child of the bench's own (SIGTERM, then SIGKILL after 5 s)."""
    p.terminate()
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    KEEP.discard(p.pid)


class Monitor:
    """`nft monitor` in the background: when each line arrived. Chains and rules of
    iptables-nft show up as nft objects (`add chain ip nat BERTH-<id>`, `delete rule
    ip nat BERTH-<id> handle 5`, ...)."""

    def __init__(self):
        self.lines = []
        self.lock = threading.Lock()
        self.p = subprocess.Popen(["nft", "monitor"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=1, text=True)
        KEEP.add(self.p.pid)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        time.sleep(0.3)

    def _read(self):
        for line in self.p.stdout:
            now = time.time()
            with self.lock:
                self.lines.append((now, line))

    def wait(self, chain, want, since, timeout):
        """When the container's chain got its first rule (`present`) or lost its
        rules (`gone`) after `since`."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                for at, line in self.lines:
                    if at < since or chain not in line:
                        continue
                    if want == "present" and line.startswith("add rule"):
                        return at
                    if want == "gone" and (line.startswith("delete rule") or line.startswith("flush chain") or line.startswith("delete chain")):
                        return at
            time.sleep(0.002)
        return None

    def close(self):
        end_child(self.p)


class Events:
    """`docker events` of one container: the engine's own time of each event."""

    def __init__(self, docker, cid):
        self.got = []
        self.lock = threading.Lock()
        self.p = subprocess.Popen([docker, "events", "--filter", f"container={cid}", "--format", "{{.Action}} {{.TimeNano}}"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=1, text=True)
        KEEP.add(self.p.pid)
        threading.Thread(target=self._read, daemon=True).start()
        time.sleep(0.3)

    def _read(self):
        for line in self.p.stdout:
            w = line.split()
            if len(w) == 2 and w[1].isdigit():
                with self.lock:
                    self.got.append((w[0], int(w[1]) / 1e9))

    def wait(self, action, since, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                for a, at in self.got:
                    if a == action and at >= since - 0.05:
                        return at
            time.sleep(0.005)
        return None

    def close(self):
        end_child(self.p)


def watcher_runs(berth):
    return subprocess.run([berth, "watch", "--status"], capture_output=True).returncode == 0


def watcher_pid():
    try:
        return json.load(open(os.path.join(RUN_DIR, "watch.json"))).get("pid")
    except (OSError, ValueError):
        return None


def proc_ticks(pid):
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except (OSError, TypeError):
        return None
    f = stat[stat.rfind(")") + 2 :].split()
    return int(f[11]) + int(f[12])  # utime + stime


def proc_status(pid):
    out = {}
    try:
        for line in open(f"/proc/{pid}/status"):
            k, _, v = line.partition(":")
            w = v.split()
            if k in ("VmRSS", "VmHWM") and w:
                out[k] = int(w[0]) / 1024
            elif k == "Threads" and w:
                out[k] = int(w[0])
    except (OSError, TypeError):
        pass
    return out


def self_reported(path, id12):
    xs = []
    try:
        for line in open(path):
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if d.get("container") == id12 and d.get("latency_ms") is not None:
                xs.append(d["latency_ms"])
    except OSError:
        pass
    return xs


# ---------------------------------------------------------------------------------
# strace timelines

STRACE_LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")


def strace_timeline(path):
    """From `strace -f -ttt -T` output: every child program (start, end), every HTTP
    request to the engine (request written -> status line read), and the total."""
    procs = {}  # pid -> [name, start, end]
    first = last = None
    pending = {}  # pid -> (syscall, fd, start) for <unfinished ...>
    requests = []  # [method path, fd, start, end]
    open_req = {}  # fd -> index in requests
    root = None
    with open(path, errors="replace") as f:
        for line in f:
            m = STRACE_LINE.match(line)
            if not m:
                continue
            pid, ts, rest = int(m.group(1)), float(m.group(2)), m.group(3)
            first = ts if first is None else first
            last = ts
            if root is None:
                root = pid
            if rest.startswith("+++ exited") or rest.startswith("+++ killed"):
                if pid in procs:
                    procs[pid][2] = ts
                continue
            if rest.startswith("execve("):
                prog = rest.split('"', 2)[1] if '"' in rest else "?"
                if rest.rstrip().endswith("= 0") or " = 0 <" in rest or "<unfinished" in rest:
                    if pid != root:
                        procs[pid] = [os.path.basename(prog), ts, None]
                continue
            call = rest.split("(", 1)[0]
            if rest.startswith("<... "):
                call = rest[5:].split(" ", 1)[0]
                p = pending.pop(pid, None)
                data = rest.split("resumed>", 1)[1] if "resumed>" in rest else ""
                fd = p[1] if p else None
            else:
                args = rest[len(call) + 1 :]
                fd_s = args.split(",", 1)[0]
                fd = int(fd_s) if fd_s.isdigit() else None
                data = args.split(",", 1)[1] if "," in args else ""
                if "<unfinished" in rest:
                    pending[pid] = (call, fd, ts)
                    if call not in ("write", "writev", "sendto", "sendmsg"):
                        continue
            if procs.get(pid) is not None or pid != root and pid in procs:
                continue  # a child's own I/O
            d = data.lstrip(" [{iov_base=").lstrip('"')
            if call in ("write", "writev", "sendto", "sendmsg"):
                mm = re.match(r"(GET|POST|PUT|DELETE|HEAD) (\S+) HTTP/1\.1", d)
                if mm and fd is not None:
                    path_only = re.sub(r"/v1\.\d+", "", mm.group(2).split("?")[0])
                    requests.append([f"{mm.group(1)} {path_only}", fd, ts, None])
                    open_req[fd] = len(requests) - 1
            elif call in ("read", "recvfrom", "recvmsg") and fd in open_req and d.startswith("HTTP/1.1"):
                requests[open_req.pop(fd)][3] = ts
    children = []
    for pid, (name, a, b) in sorted(procs.items(), key=lambda x: x[1][1]):
        children.append({"program": name, "start_ms": (a - first) * 1000, "ms": ((b or last) - a) * 1000})
    reqs = [{"request": r[0], "start_ms": (r[2] - first) * 1000, "ms": ((r[3] or r[2]) - r[2]) * 1000} for r in requests]
    by_prog = {}
    for c in children:
        e = by_prog.setdefault(c["program"], {"count": 0, "ms": 0.0})
        e["count"] += 1
        e["ms"] += c["ms"]
    return {
        "total_ms": ((last or 0) - (first or 0)) * 1000,
        "children": children,
        "children_by_program": by_prog,
        "requests": reqs,
        "requests_ms": sum(r["ms"] for r in reqs),
        "file": path,
    }


def profile_text(label, p):
    if "error" in p:
        return f"{label}: {p['error']}"
    parts = [f"{label}: {p['total_ms']:.0f} ms traced (strace slows it)"]
    for r in p["requests"]:
        parts.append(f"  +{r['start_ms']:6.0f} ms  {r['ms']:6.1f} ms  engine {r['request']}")
    for c in p["children"]:
        parts.append(f"  +{c['start_ms']:6.0f} ms  {c['ms']:6.1f} ms  child {c['program']}")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------
# rules: berth's own lines (from `berth run --dry-run`), with fake ids and addresses


class firewall_lock:
    """berth's firewall lock (flock), held while the bench writes rules, so that no
    berth process writes between our read and our write."""

    def __enter__(self):
        os.makedirs(RUN_DIR, exist_ok=True)
        self.f = open(os.path.join(RUN_DIR, "firewall.lock"), "a+")
        fcntl.flock(self.f.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.f.fileno(), fcntl.LOCK_UN)
        self.f.close()


TEMPLATE_KINDS = {
    # kind: flags for `berth run --dry-run`; the host ports in them are replaced
    "tcp": ["-p", "20999:80"],
    "local-udp": ["-p", "127.0.0.1:20999:53/udp"],
    "range": ["-p", "20990-20999:20990-20999"],
    "shifted": ["-p", "20990-20999:7000-7009"],
}


def templates(berth):
    """The rules berth's planner writes for one container, per kind and table:
    chain declarations and rules, with the placeholders CONTAINER_ID and CONTAINER_IP
    and the host ports 20999 / 20990-20999 (to substitute)."""
    out = {}
    for kind, flags in TEMPLATE_KINDS.items():
        r = timed([berth, "run", "--dry-run", "--format", "json", *flags, IMAGE])
        if not r.ok():
            raise RuntimeError(f"berth run --dry-run: {r.why()}")
        doc = json.loads(r.out)
        if "rules" not in doc:
            raise RuntimeError("berth run --dry-run --format json has no 'rules'")
        tables = {}
        table = None
        for line in doc["rules"]:
            if line.startswith("*"):
                table = line[1:]
                tables.setdefault(table, {"chains": [], "rules": []})
            elif line.startswith(":"):
                tables[table]["chains"].append(line)
            elif line.startswith("-A "):
                tables[table]["rules"].append(line)
        if not any("CONTAINER_ID" in c for t in tables.values() for c in t["chains"]):
            raise RuntimeError(f"berth run --dry-run declares no chain of the container ({kind}): is this the per-container layout?")
        out[kind] = tables
    return out


def fake_id(i):
    return f"{FAKE_PREFIX}{i:04x}"


def fake_ip(i):
    return f"172.30.{i // 250}.{i % 250 + 2}"


def fill(line, i, port):
    """A template line for fake container i, its host port (or first host port of a
    range of 10) `port`."""
    return (
        line.replace("CONTAINER_ID", fake_id(i))
        .replace("CONTAINER_IP", fake_ip(i))
        .replace("--dport 20999 ", f"--dport {port} ")
        .replace("--dport 20990:20999 ", f"--dport {port}:{port + 9} ")
        .replace("/20990", f"/{port}")
        .replace("--to-destination " + fake_ip(i) + ":20990-20999", f"--to-destination {fake_ip(i)}:{port}-{port + 9}")
    )


def fake_containers(tpl, first, end):
    """iptables-restore --noflush text for fake containers first..end-1, each
    `-p 30xxx:80`: the exact lines berth's planner produces, in every table."""
    sections = {}
    count = {"rules": 0, "chains": 0}
    for i in range(first, end):
        for table, t in tpl["tcp"].items():
            s = sections.setdefault(table, {"chains": [], "rules": []})
            s["chains"] += [fill(x, i, 30000 + i) for x in t["chains"]]
            s["rules"] += [fill(x, i, 30000 + i) for x in t["rules"]]
    text = ""
    for table in ("raw", "nat", "filter"):
        if table in sections:
            s = sections[table]
            text += f"*{table}\n" + "".join(x + "\n" for x in s["chains"] + s["rules"]) + "COMMIT\n"
            count["rules"] += len(s["rules"])
            count["chains"] += len(s["chains"])
    return text, count


def nat_table(tpl, n):
    """A whole nat table (iptables-restore input) of about n rules: berth's base jumps
    and the nat rules of fake containers of four kinds (a port, a 127.0.0.1 udp port,
    an identical and a shifted range of 10), every line from `berth run --dry-run`."""
    chains = [":BERTH - [0:0]", ":BERTH-POSTROUTING - [0:0]"]
    rules = [
        "-A PREROUTING -m addrtype --dst-type LOCAL -j BERTH",
        "-A OUTPUT -m addrtype --dst-type LOCAL -j BERTH",
        "-A POSTROUTING -j BERTH-POSTROUTING",
        "-A BERTH-POSTROUTING -s 127.0.0.0/8 -o docker0 -j MASQUERADE",
    ]
    i = 0
    kinds = ("tcp", "local-udp", "range", "shifted")
    while len(rules) < n:
        t = tpl[kinds[i % 4]]["nat"]
        port = 20000 + (i * 10) % 10000 if i % 4 >= 2 else 30000 + i % 10000
        chains += [fill(x, i, port) for x in t["chains"]]
        rules += [fill(x, i, port) for x in t["rules"]]
        i += 1
    head = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]"]
    return "\n".join(head + chains + rules + ["COMMIT", ""]), len(rules)


def is_fake(line):
    return f'--comment "berth:{FAKE_PREFIX}' in line


def count_fakes():
    save = sh(["iptables-save"], check=False)
    return sum(1 for line in save.splitlines() if line.startswith("-A ") and is_fake(line))


def remove_fakes():
    """Take every fake container's rules and chains away (any table), in one
    transaction under berth's firewall lock: the shared chains that hold fake lines are
    declared anew (with --noflush that flushes just them) and get their other rules
    back in order; the fake chains are then deleted. Deleting rule by rule with -D is
    quadratic in iptables-nft (it compares each rule with the whole chain)."""
    for attempt in range(5):
        with firewall_lock():
            save = sh(["iptables-save"], check=False)
            text, n = fake_removal(save)
            if not text:
                return 0
            r = subprocess.run(["iptables-restore", "--noflush", "--wait"], input=text.encode(), capture_output=True)
        if r.returncode == 0:
            return n
        time.sleep(0.2)
    raise RuntimeError("cannot remove the fake rules (tags berth:" + FAKE_PREFIX + "xxxx): " + r.stderr.decode(errors="replace").strip()[-300:])


def fake_removal(save):
    """The iptables-restore --noflush text that removes the fakes from this save."""
    tables = {}  # table -> {"order": [chains], "rules": {chain: [lines]}, "fake_chains": set}
    table = None
    for line in save.splitlines():
        if line.startswith("*"):
            table = line[1:]
            tables[table] = {"rules": {}, "fake_chains": []}
        elif line.startswith(":") and table:
            name = line[1:].split()[0]
            if FAKE_CHAIN.match(name):
                tables[table]["fake_chains"].append(name)
        elif line.startswith("-A ") and table:
            chain = line.split()[1]
            tables[table]["rules"].setdefault(chain, []).append(line)
    text = ""
    n = 0
    for name, t in tables.items():
        redo = []
        for chain, lines in t["rules"].items():
            if FAKE_CHAIN.match(chain):
                n += len(lines)
                continue
            if any(is_fake(x) for x in lines):
                redo.append(chain)
        if not redo and not t["fake_chains"]:
            continue
        out = []
        builtin = {"PREROUTING", "INPUT", "OUTPUT", "FORWARD", "POSTROUTING"}
        for chain in redo:
            if chain in builtin:
                # never flush a built-in chain: delete just the fake lines
                out += ["-D " + x[3:] for x in t["rules"][chain] if is_fake(x)]
            else:
                out.append(f":{chain} - [0:0]")
        for chain in redo:
            if chain not in builtin:
                keep = [x for x in t["rules"][chain] if not is_fake(x)]
                out += keep
            n += sum(1 for x in t["rules"][chain] if is_fake(x))
        for chain in t["fake_chains"]:
            out += [f"-F {chain}", f"-X {chain}"]
        text += f"*{name}\n" + "".join(x + "\n" for x in out) + "COMMIT\n"
    return text, n


# ---------------------------------------------------------------------------------
# cleanup, machine, output


def cleanup(berth, podman):
    """Remove everything named berth-bench-* (any run), and our fake rules."""
    names = [
        x
        for x in sh(["docker", "ps", "-a", "--format", "{{.Names}}"], check=False).split()
        if x.startswith(ANY_PREFIX)
    ]
    if names:
        log(f"cleanup: removing {len(names)} berth-bench containers")
        # berth rm removes the container and every rule berth wrote for it
        subprocess.run([berth, "rm", "-f", *names], capture_output=True)
        left = [
            x
            for x in sh(["docker", "ps", "-a", "--format", "{{.Names}}"], check=False).split()
            if x.startswith(ANY_PREFIX)
        ]
        parallel([["docker", "rm", "-f", x] for x in left], 4)
    if podman:
        subreaper(False)
        try:
            pnames = [x for x in sh([podman, "ps", "-a", "--format", "{{.Names}}"], check=False).split() if x.startswith(ANY_PREFIX)]
            if pnames:
                log(f"cleanup: removing {len(pnames)} berth-bench podman containers")
                subprocess.run([podman, "rm", "-f", "-t", "0", *pnames], capture_output=True)
        finally:
            subreaper(True)
    n = remove_fakes()
    if n:
        log(f"cleanup: removed {n} fake rules")
    for line in sh(["ip", "netns", "list"], check=False).splitlines():
        ns = line.split()[0] if line.split() else ""
        if ns.startswith(ANY_PREFIX):
            log(f"cleanup: deleting network namespace {ns}")
            sh(["ip", "netns", "del", ns], check=False)
    leftover_children()


def machine(berth, podman):
    def first(cmd):
        try:
            return sh(cmd, check=False).strip()
        except OSError:
            return ""

    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) // 1024} MiB"
    except (OSError, ValueError):
        pass
    rev = first(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    dirty = first(["git", "-C", ROOT, "status", "--porcelain", "--", "src", "Cargo.toml"])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "kernel": platform.release(),
        "docker": first(["docker", "version", "--format", "{{.Server.Version}}"]),
        "podman": first([podman, "--version"]) if podman else "",
        "netavark": first(["/usr/lib/podman/netavark", "--version"]) if os.path.exists("/usr/lib/podman/netavark") else "",
        "iptables": first(["iptables", "--version"]),
        "berth": first([berth, "--version"]),
        "commit": rev + (" (with uncommitted changes in src/)" if dirty else ""),
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
    }


PHASES = ["version", "flat", "existing", "natls", "peers", "ps", "scaling", "watch", "profile", "micro"]


def main():
    ap = argparse.ArgumentParser(description="berth vs docker and podman, for real (see scripts/bench)")
    ap.add_argument("--berth", required=True, help="the berth binary")
    ap.add_argument("--quick", action="store_true", help="a smaller run: 3 rounds, no 500-port or 28.5.2 cases, no ps/profile/micro: < 3 minutes")
    ap.add_argument("--reps", type=int, default=0, help="rounds per case (default 5, --quick 3)")
    ap.add_argument("--slow-reps", type=int, default=3, help="rounds for the peers' slow cases (500 separate -p, range 1000; default 3)")
    ap.add_argument("--only", action="append", choices=PHASES, help="run only these phases (repeatable)")
    ap.add_argument("--skip", action="append", choices=PHASES, help="leave these phases out (repeatable)")
    ap.add_argument("--cases", default="", help="peers phase: only cases whose label matches this regex (e.g. 'single|range 100')")
    ap.add_argument("--no-podman", action="store_true", help="leave podman out")
    ap.add_argument("--no-versions", action="store_true", help="peers on the running engine only (no switch to 28.5.2)")
    ap.add_argument("--docker-big", action="store_true", help="peers: docker for the 1000-port range too (minutes per run on 20.10)")
    ap.add_argument("--watch-cycles", type=int, default=100, help="watch phase: stop/start cycles (default 100, --quick 10)")
    ap.add_argument("--micro", action="store_true", help="run the criterion micro-benchmarks in --quick too")
    ap.add_argument("--json", default="", help="where to write the JSON (default: <target>/bench/bench-<mode>.json)")
    args = ap.parse_args()
    if not args.json:
        target = os.path.dirname(os.path.dirname(os.path.abspath(args.berth)))
        part = "-" + "-".join(args.only) if args.only else ""
        args.json = os.path.join(target, "bench", f"bench-{'quick' if args.quick else 'full'}{part}.json")
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    if args.micro and args.only and "micro" not in args.only:
        args.only.append("micro")

    # no watcher started by the bench's berth runs (see the module's doc)
    os.environ["BERTH_WATCH"] = "off"
    # every orphaned descendant of a command becomes our child: "any child left" check
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        log("warning: cannot become a child subreaper; left-behind processes go uncounted")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    started = time.time()
    bench = Bench(args)
    info = machine(args.berth, bench.podman)
    interrupted = False
    cleanup(args.berth, bench.podman)
    try:
        bench.run()
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: cleaning up")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            cleanup(args.berth, bench.podman)
        finally:
            if os.path.exists(SWITCH_MARKER):
                try:
                    switch_engine("20.10")
                except RuntimeError as e:
                    log(f"could not switch back to dockerd 20.10: {e}")
    info["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    elapsed = time.time() - started

    mode = "quick" if args.quick else "full"
    out = []
    out.append(f"berth bench ({mode}{', interrupted' if interrupted else ''}), {elapsed:.0f} s, "
               f"{info['cores']} cores ({info['cpu']}), load {' '.join(info['loadavg_start'])} -> {' '.join(info['loadavg_end'])}")
    out.append(f"{info['berth']} ({info['commit']}), docker {info['docker']}, {info['podman'] or 'no podman'}, {info['iptables']}")
    out.append("times are medians; ratio = median of per-pair berth/other (interleaved runs); the host is shared, so prefer the ratios")
    out.append("")
    out.append(table(bench.rows))
    if bench.peer_rows:
        out.append("")
        out.append("berth / docker / podman (same rounds; speed-up = other's median / berth's median; costs: minus the same tool's port-less run)")
        out.append(peers_table(bench.peer_rows))
    if bench.scaling:
        out.append("")
        out.append("scaling: berth run -d / rm -f with N published ports (median ms)")
        out.append(scaling_table(bench.scaling))
    if bench.existing:
        out.append("")
        out.append("one more container while other containers' rules exist (median ms; fake rules, see notes)")
        out.append(existing_table(bench.existing))
    if bench.watch:
        w = bench.watch
        out.append("")
        out.append("berth watch")
        lines = []
        for key, label in (("gone_after_die_ms", "rules gone after the die event"), ("present_after_start_ms", "rules there after the start event"),
                           ("gone_after_stop_command_ms", "rules gone after `docker stop -t 0` was called"),
                           ("present_after_start_command_ms", "rules there after `docker start` was called"),
                           ("self_reported_latency_ms", "its own latency_ms lines (event -> rules written)")):
            s = w.get(key)
            if s:
                lines.append([label, fmt_time(s["p50"]), fmt_time(s["p99"]), fmt_time(s["max"]), s["n"]])
        out.append(render_table(["latency", "p50", "p99", "max", "n"], lines))
        cpu = w.get("idle_cpu_percent")
        out.append(f"idle: {'-' if cpu is None else f'{cpu:.2f}'} % of one core over {w['idle_seconds']} s; RSS {w.get('rss_mb') or 0:.1f} MB "
                   f"(peak {w.get('peak_rss_mb') or 0:.1f} MB), {w.get('threads')} threads; lost cycles: {w['lost']}")
    if bench.profiles:
        out.append("")
        out.append("profiles (strace -f timelines; the tracing slows every step)")
        for label, p in bench.profiles.items():
            out.append(profile_text(label, p))
    notes = list(bench.notes)
    for r in bench.rows:
        if len(r.berth) >= 3 and r.group not in ("flat", "watch") and median(r.berth) > 0 and max(r.berth) > 3 * median(r.berth):
            r.notes.append(f"berth outlier: {max(r.berth):.0f} ms (median {median(r.berth):.0f} ms)")
    for r in bench.rows:
        for n in r.notes:
            notes.append(f"{r.case}: {n}")
    if notes:
        out.append("")
        out.append("notes:")
        for n in dict.fromkeys(notes):
            out.append(f"- {n}")
    failed = [r.case for r in bench.rows if r.verdict()[0] is False]
    failed += [f"{r.engine} {r.case} {r.op}" for r in bench.peer_rows if r.verdict()[0] is False]
    doc = {
        "mode": mode,
        "interrupted": interrupted,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(elapsed),
        "machine": info,
        "rows": [r.to_json() for r in bench.rows],
        "peers": [r.to_json() for r in bench.peer_rows],
        "scaling": bench.scaling,
        "existing": bench.existing,
        "watch": bench.watch,
        "flat_checks": getattr(bench, "flat_checks", {}),
        "profiles": bench.profiles,
        "notes": list(dict.fromkeys(notes)),
        "failed": failed,
    }
    with open(args.json, "w") as f:
        json.dump(doc, f, indent=1)
    out.append("")
    out.append(f"{len(failed)} goal(s) missed; JSON: {args.json}")
    text = "\n".join(out)
    print()
    print(text)
    with open(os.path.splitext(args.json)[0] + ".txt", "w") as f:
        f.write(text + "\n")
    return 130 if interrupted else 0


def existing_table(series):
    counts = sorted({int(k) for e in series for k in e["ms_by_containers_there"]})
    head = ["case"] + [f"{c} there" for c in counts] + ["0 (after removal)"]
    lines = []
    for e in series:
        by = e["ms_by_containers_there"]
        lines.append([e["case"]] + [fmt_time(by.get(str(c))) for c in counts] + [fmt_time(e["ms_none_after_removal"])])
    return render_table(head, lines)


def scaling_table(points):
    head = ["kind", "N", "run -d", "rm -f", "max RSS", "runs"]
    lines = [[p["kind"], f"{p['ports']:,}", fmt_time(p["run_ms"]), fmt_time(p["rm_ms"]), f"{p['max_rss_mb'] or 0:.1f} MB", p["runs"]] for p in points]
    return render_table(head, lines)


if __name__ == "__main__":
    sys.exit(main())
