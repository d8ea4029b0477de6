#!/usr/bin/env python3
"""berth's benchmark driver: berth against docker on this machine, for real.

Run through scripts/bench (which installs what is missing, starts dockerd and builds
berth first). Every comparison is interleaved (berth, docker, berth, docker, ...) and
reported as the median of the runs and the median of the per-pair ratios: the machine
is shared and noisy, so the ratios say more than the absolute times.

Everything it creates is named berth-bench-<pid>-...: containers, network namespaces.
Fake rules (the "1,000 containers' rules already exist" case) carry the tags
berth:bec40000xxxx. All of it is removed at the end, on Ctrl-C, and at the start of
the next run (leftovers of a killed one).

Host ports used: 20000-20999 and 30000-30999 only.

Max RSS comes from GNU time (/usr/bin/time -f %M), not from os.wait4 here: a child's
peak RSS includes the pages it held before exec, i.e. this Python's (~18 MB). Left-over
processes: this process is a child subreaper (prctl), so every process a command
leaves behind becomes its child and is counted after the command ends; docker-proxy
processes are counted by the container address in their command line.
"""

import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

PID = os.getpid()
PREFIX = f"berth-bench-{PID}-"
ANY_PREFIX = "berth-bench-"
# fake container IDs of loaded rules: 12 hex, this prefix, then the index in hex
FAKE_PREFIX = "bec40000"
IMAGE = "busybox"
COMMAND = ["sleep", "300"]
MB = 1024  # ru_maxrss is in KiB

RSS_LIMIT_MB = 30.0
OVERHEAD_LIMIT_MS = 50.0
SPEEDUP_TARGET = 100.0
FLAT_LIMIT = 1.25  # "does not grow": with/without rules, within the noise of this host

libc = ctypes.CDLL(None, use_errno=True)
PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWNET = 0x40000000


def log(msg):
    print(f"--> {msg}", file=sys.stderr, flush=True)


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


def timed(argv, data=None, rss=True):
    """Run argv: wall time, exit status, output, and (rss=True) the max RSS of the
    process, through GNU time (os.wait4 here would count this Python's own pages: a
    child's peak RSS includes what it held before exec). The wrapper costs both sides
    of a comparison the same; read-only commands are timed without it (rss=False) and
    their RSS taken from a separate wrapped run."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss_file:
        full = [TIME, "-q", "-f", "%M", "-o", rss_file.name, *argv] if rss else argv
        stdin = subprocess.PIPE if data is not None else subprocess.DEVNULL
        t0 = time.perf_counter()
        p = subprocess.Popen(full, stdin=stdin, stdout=out, stderr=err)
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


def sh(argv, data=None, check=True):
    """An untimed helper command; returns stdout as text."""
    r = subprocess.run(argv, input=data, capture_output=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.decode(errors='replace').strip()}")
    return r.stdout.decode(errors="replace")


def leftover_children():
    """Processes left behind by the command that just ended: as a child subreaper,
    this process inherits every orphaned descendant. Kills and reaps them."""
    left = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.find("(") + 1 : stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[1]) == PID:
            left.append((int(d), comm))
    for pid, _ in left:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass
    return left


def proxies_for(ip):
    """docker-proxy processes that forward to this container address."""
    if not ip:
        return 0
    needle = b"\0-container-ip\0" + ip.encode() + b"\0"
    n = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if cmd.split(b"\0", 1)[0].endswith(b"docker-proxy") and needle in cmd:
            n += 1
    return n


def container_ip(name):
    r = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name],
        capture_output=True,
    )
    return r.stdout.decode().split()[0] if r.returncode == 0 and r.stdout.split() else ""


# ---------------------------------------------------------------------------------
# statistics and the table


def median(xs):
    return statistics.median(xs) if xs else None


class Row:
    def __init__(self, case, group, target="info"):
        self.case = case
        self.group = group
        self.target = target
        self.berth = []  # ms per run
        self.docker = []
        self.ratios = []  # berth/docker per pair
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
            "docker_median": median(self.docker),
            "compared_with": self.docker_label,
            "ratio_berth_over_other": median(self.ratios),
            "speedup": (1 / median(self.ratios)) if self.ratios and median(self.ratios) > 0 else None,
            "target": self.target,
            "pass": ok,
            "why": why,
            "berth_max_rss_mb": max(self.rss) if self.rss else None,
            "berth_helpers_max": max(self.berth_helpers) if self.berth_helpers else None,
            "docker_helpers_max": max(self.docker_helpers) if self.docker_helpers else None,
            "berth_runs": self.berth,
            "docker_runs": self.docker,
            "ratios": self.ratios,
            "rss_mb": self.rss,
            "errors": self.errors,
            "notes": self.notes,
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


def table(rows):
    head = ["case", "berth", "docker/other", "ratio b/o", "speed-up", "target", "result", "max RSS", "helpers b/d", "n b/d"]
    lines = []
    for r in rows:
        ok, why = r.verdict()
        ratio = median(r.ratios)
        speed = f"{1 / ratio:.0f}x" if ratio and ratio < 0.1 else (f"{1 / ratio:.2f}x" if ratio else "-")
        res = ("info" if r.target == "info" else "n/a") if ok is None else ("PASS" if ok else "FAIL")
        bh = max(r.berth_helpers) if r.berth_helpers else "-"
        dh = max(r.docker_helpers) if r.docker_helpers else "-"
        lines.append(
            [
                r.case,
                fmt_time(median(r.berth), r.unit),
                fmt_time(median(r.docker), r.unit) + ("" if r.docker_label == "docker" or not r.docker else f" ({r.docker_label})"),
                fmt_ratio(ratio),
                speed,
                r.target,
                res + (f" ({why})" if why and res == "FAIL" else ""),
                f"{max(r.rss):.1f} MB" if r.rss else "-",
                f"{bh}/{dh}",
                f"{len(r.berth)}/{len(r.docker)}",
            ]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    out = []
    fmt = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    out.append(fmt(head))
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in lines:
        out.append(fmt(line))
    return "\n".join(out)


# ---------------------------------------------------------------------------------
# the bench


class Bench:
    def __init__(self, args):
        self.args = args
        self.berth = args.berth
        self.quick = args.quick
        self.reps = args.reps or (3 if self.quick else 5)
        self.docker_reps_1000 = args.docker_reps_1000
        self.rows = []
        self.scaling = []
        self.existing = []
        self.notes = []
        self.seq = 0
        self.templates = None

    def name(self, what):
        self.seq += 1
        return f"{PREFIX}{what}-{self.seq}"

    def want(self, phase):
        return not self.args.only or phase in self.args.only

    # -- one container's life, berth or docker ---------------------------------

    def start(self, tool, name, ports, cmd=COMMAND):
        argv = [self.berth if tool == "berth" else "docker", "run", "-d", "--name", name, *ports, IMAGE, *cmd]
        r = timed(argv)
        left = leftover_children()
        helpers = len(left)
        if r.ok():
            helpers += proxies_for(container_ip(name))
        return r, helpers, left

    def remove(self, tool, name):
        argv = [self.berth if tool == "berth" else "docker", "rm", "-f", name]
        r = timed(argv)
        return r, leftover_children()

    def life(self, tool, what, ports):
        """Start and remove one container. Returns (Life, None) or (None, error)."""
        name = self.name(what)
        r, helpers, left = self.start(tool, name, ports)
        if not r.ok():
            self.force_remove(name)
            return None, f"{tool}: {r.why()}"
        rm, rm_left = self.remove(tool, name)
        if not rm.ok():
            self.force_remove(name)
            return None, f"{tool}: {rm.why()}"
        return Life(r, rm, helpers, rm_left, left), None

    @staticmethod
    def record(life, start_row, rm_row, tool="berth"):
        """A berth life into its rows: RSS and helper processes (times are paired by
        the caller)."""
        for row, res, h in ((start_row, life.run, life.helpers), (rm_row, life.rm, life.rm_helpers)):
            if tool == "berth":
                row.rss.append(res.rss_mb)
                row.berth_helpers.append(h)
            else:
                row.docker_helpers.append(h)
        if life.left:
            start_row.notes.append(f"{tool} left processes behind: {life.left}")

    def force_remove(self, name):
        subprocess.run([self.berth, "rm", "-f", name], capture_output=True)
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)

    # -- 1 and 2: run -d / rm -f with published ports ----------------------------

    def publish_cases(self):
        cases = []
        for n in (1, 10, 100, 1000):
            last = 20000 + n - 1
            ports = ["-p", "20000:20000"] if n == 1 else ["-p", f"20000-{last}:20000-{last}"]
            cases.append((f"range {n}", n, ports, f"-p 20000-{last}:20000-{last}" if n > 1 else "-p 20000:20000"))
        for n in (10, 100, 1000):
            cases.append((f"shifted {n}", n, ["-p", f"30000-{30000 + n - 1}:20000-{20000 + n - 1}"], f"-p 30000-{30000 + n - 1}:20000-{20000 + n - 1}"))
        for n in (10, 100, 1000):
            cases.append((f"separate {n}", n, separate_flags(n), f"{n} x -p H:C, no two adjacent"))
        if self.quick:
            cases = [c for c in cases if c[0].startswith("range") or c[1] == 1000]
        return cases

    def bench_publish(self):
        for label, n, ports, shown in self.publish_cases():
            docker_reps = self.reps
            if n >= 1000:
                docker_reps = min(self.reps, self.docker_reps_1000)
            if self.quick and n > 10:
                docker_reps = 0
            if self.args.no_docker:
                docker_reps = 0
            big = n >= 1000
            start = Row(f"run -d, {label} ({shown})", "publish", f">= {SPEEDUP_TARGET:.0f}x faster" if big else "info")
            rm = Row(f"rm -f, {label}", "publish", f">= {SPEEDUP_TARGET:.0f}x faster" if big else "info")
            over = Row(f"publish overhead, {label} (run -d minus port-less run -d)", "publish", f"< {OVERHEAD_LIMIT_MS:.0f} ms")
            over.docker_label = "-"
            if big:
                start.check = rm.check = speedup_check
            over.check = lambda row: (
                (median(row.berth) < OVERHEAD_LIMIT_MS, "") if row.berth else (None, "")
            )
            # the same run -d with the same ports only exposed: what is left is berth's
            # own publishing work (the daemon's cost of 1000 exposed ports drops out)
            with_expose = n >= 1000 or not self.quick
            own = Row(f"publish overhead, {label} (run -d minus run -d --expose same ports)", "publish", "info")
            own.docker_label = "-"
            expose = ["--expose", "20000" if n == 1 else f"20000-{20000 + n - 1}"]
            if 0 < docker_reps < self.reps:
                note = f"docker: {docker_reps} runs (the 1000-port docker cases take minutes each)"
                start.notes.append(note)
                rm.notes.append(note)
            # the overhead is a difference of two container starts, each +-100 ms on a
            # busy host: berth gets more runs than the docker pairs in the full run
            berth_reps = self.reps if self.quick else max(self.reps, 9)
            log(f"publish: {label}: {berth_reps} berth runs, {docker_reps} docker runs")
            for rep in range(berth_reps):
                base, _ = self.life("berth", "base", [])
                b, err = self.life("berth", f"p{n}", ports)
                if err:
                    start.errors.append(err)
                d = None
                if rep < docker_reps:
                    t0 = time.time()
                    d, derr = self.life("docker", f"p{n}", ports)
                    if derr:
                        start.errors.append(derr)
                    elif n >= 100:
                        log(f"  docker {label}: run -d {d.run.wall:.1f} s, rm -f {d.rm.wall:.1f} s, "
                            f"{d.helpers} docker-proxy (run {rep + 1}, {time.time() - t0:.0f} s)")
                if b is None:
                    continue
                self.record(b, start, rm)
                if d is not None:
                    self.record(d, start, rm, "docker")
                start.pair(b.run.ms, d.run.ms if d else None)
                rm.pair(b.rm.ms, d.rm.ms if d else None)
                if base is not None:
                    over.berth.append(b.run.ms - base.run.ms)
                if with_expose:
                    exp, _ = self.life("berth", "expose", expose)
                    if exp is not None:
                        own.berth.append(b.run.ms - exp.run.ms)
            self.rows += [start, rm, over] + ([own] if own.berth else [])

    # -- 3: nat ls vs iptables -t nat -nL ----------------------------------------

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
        row = Row(f"nat ls, {count} nat rules (own netns)", "nat-ls", "<= 1.0x, identical output")
        row.docker_label = "iptables -t nat -nL"
        same = True
        log(f"nat ls: {count} rules, {self.reps} runs each")
        for _ in range(self.reps):
            b = timed([self.berth, "nat", "ls"], rss=False)
            i = timed(["iptables", "-t", "nat", "-nL"], rss=False)
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
        row.same = same

        def check(row):
            if not same:
                return False, "output differs: " + (row.notes[0] if row.notes else "")
            r = median(row.ratios)
            return r <= 1.0, "" if r <= 1.0 else f"ratio {r:.2f} > 1.0"

        row.check = check
        if not same:
            save_dir = os.path.dirname(self.args.json)
            with open(os.path.join(save_dir, f"nat-ls-{count}.berth"), "wb") as f:
                f.write(b.out)
            with open(os.path.join(save_dir, f"nat-ls-{count}.iptables"), "wb") as f:
                f.write(i.out)
        self.rows.append(row)

    # -- 4: ps and --version ----------------------------------------------------

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
            f"run -d / rm -f times (both sides) include GNU time, which takes the max RSS: "
            f"{wrapped - bare:.1f} ms per command here (/bin/true: {wrapped:.1f} ms wrapped, {bare:.1f} ms bare); "
            f"nat ls, ps and --version are timed bare, their RSS from separate runs"
        )

    # -- 6: scaling --------------------------------------------------------------

    def bench_scaling(self):
        sizes = (1, 10, 100, 1000) if self.quick else (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
        reps = self.reps
        log(f"scaling in N: {sizes}, {reps} runs each")
        series = {}
        for rep in range(reps):
            for n in sizes:
                for kind in ("range", "separate"):
                    if kind == "separate" and n == 1:
                        continue
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

    def bench_existing(self):
        """One more container when 1,000 containers' rules already exist, against none.
        The rules are loaded as fakes (berth's exact lines, fake ids and addresses, no
        containers behind them), in steps, so that the growth shows; then removed."""
        log("existing rules: making sure berth's base chains exist")
        _, err = self.life("berth", "anchor", ["-p", "20000:20000"])
        if err:
            raise RuntimeError(err)
        save = sh(["iptables-save"])
        for chain in (":BERTH ", ":BERTH-POSTROUTING ", ":BERTH-FORWARD ", ":BERTH-RAW "):
            if chain not in save:
                raise RuntimeError(f"berth's base chain {chain.strip(': ')} is missing after a berth run")
        cases = [
            ("1 port", ["-p", "20000:20000"]),
            ("range 1000", range_flags(1000)),
            ("separate 1000", separate_flags(1000)),
        ]
        if self.quick:
            # its removal takes seconds with the rules there: full run only
            cases = cases[:2]
        steps = (1000,) if self.quick else (250, 500, 1000)
        # samples[(what, label)][containers already there] = [ms, ...]
        samples = {}
        rss = {}

        def block(existing):
            there = f"{existing} containers' rules there" if existing >= 0 else "the fake rules removed again"
            log(f"existing rules: {self.reps} runs per case, {there}")
            got = {}
            for _ in range(self.reps):
                for label, ports in cases:
                    life, err = self.life("berth", "e", ports)
                    if life is None:
                        got.setdefault(("error", label), []).append(err)
                        continue
                    got.setdefault(("run -d", label), []).append(life.run.ms)
                    got.setdefault(("rm -f", label), []).append(life.rm.ms)
                    rss.setdefault(label, []).extend([life.run.rss_mb, life.rm.rss_mb])
                    helpers = life.helpers + life.rm_helpers
                    if helpers:
                        rss.setdefault(("helpers", label), []).append(helpers)
            return got

        def keep(existing, got):
            for key, xs in got.items():
                samples.setdefault(key, {}).setdefault(existing, []).extend(xs)

        keep(0, block(0))
        loaded = 0
        disturbed = 0
        try:
            for step in steps:
                # the fakes are orphans: another engineer's `berth nat sync` may remove
                # them at any time. Load exactly `step` containers' rules, check that
                # they are all still there after the block, else repeat it.
                for attempt in range(3):
                    remove_fake_rules()
                    text, count = fake_containers(self.templates, 0, step)
                    t = timed(["iptables-restore", "--noflush", "--wait"], data=text.encode())
                    if not t.ok():
                        raise RuntimeError(f"loading the fake rules: {t.why()}")
                    log(f"existing rules: loaded {count} rules of fake containers 0..{step - 1} ({t.ms:.0f} ms)")
                    got = block(step)
                    still = count_fake_rules()
                    if still == count:
                        break
                    disturbed += 1
                    log(f"existing rules: only {still} of the {count} fake rules are left (removed by another process): repeating")
                keep(step, got)
                loaded = step
        finally:
            t0 = time.perf_counter()
            n = remove_fake_rules()
            log(f"existing rules: removed {n} fake rules ({(time.perf_counter() - t0) * 1000:.0f} ms)")
        if disturbed:
            self.notes.append(
                f"existing rules: {disturbed} block(s) of runs were repeated because another process "
                f"(a `berth nat sync` of another engineer's test) removed fake rules meanwhile"
            )
        self.notes.append(
            f"'with 1,000 containers' rules': 1,000 fake containers' rules, {4 * loaded} in all (berth's exact "
            f"lines for -p 30xxx:80 from `berth run --dry-run`, fake ids {FAKE_PREFIX}xxxx, addresses 172.30.x.y), "
            f"loaded with iptables-restore --noflush in steps of {', '.join(map(str, steps))} containers, removed "
            f"afterwards; no real containers behind them. 'none there': the runs before loading and after removal, pooled"
        )
        keep(-1, block(-1))  # after removal: none there again
        for label, _ in cases:
            for what in ("run -d", "rm -f"):
                by = samples.get((what, label), {})
                none = by.get(0, []) + by.get(-1, [])
                row = Row(f"{what}, {label}, with 1,000 containers' rules", "existing", f"<= {FLAT_LIMIT}x of none")
                row.docker_label = "none there"
                row.check = flat_check
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
                        "ms_by_containers_there": {str(k if k >= 0 else 0): median(v) for k, v in sorted(by.items()) if k >= 0},
                        "ms_none_after_removal": median(by.get(-1, [])),
                    }
                )

    # -- micro-benchmarks (criterion) -------------------------------------------

    def bench_micro(self):
        root = os.environ.get("BERTH_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(root, "target")
        argv = ["cargo", "bench", "--quiet", "--bench", "pure", "--", "--noplot"]
        if self.quick:
            argv += ["--warm-up-time", "0.5", "--measurement-time", "1", "--sample-size", "10"]
        log("micro-benchmarks: " + " ".join(argv))
        r = subprocess.run(argv, cwd=root, capture_output=True)
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

    # -- the whole run ----------------------------------------------------------

    def warm_up(self):
        log("warm-up: one berth and one docker container")
        for tool in ("berth", "docker"):
            _, err = self.life(tool, "warm", ["-p", "20000:20000"])
            if err:
                log(f"warning: warm-up: {err}")
                self.notes.append(f"warm-up failed (the runs go on): {err[:300]}")

    def run(self):
        self.templates = templates(self.berth)
        self.warm_up()
        phases = [
            ("version", self.bench_version),
            ("publish", self.bench_publish),
            ("natls", self.bench_nat_ls),
            ("ps", self.bench_ps),
            ("scaling", self.bench_scaling),
            ("existing", self.bench_existing),
            ("micro", self.bench_micro),
        ]
        for name, fn in phases:
            if not self.want(name):
                continue
            if name == "micro" and self.quick and not self.args.micro:
                continue
            t0 = time.time()
            try:
                fn()
            except RuntimeError as e:
                row = Row(f"{name}: phase failed", name)
                row.errors.append(str(e))
                self.rows.append(row)
                log(f"{name}: FAILED: {e}")
            log(f"{name}: {time.time() - t0:.0f} s")


class Life:
    """One container's run -d and rm -f."""

    def __init__(self, run, rm, helpers, rm_left, left):
        self.run = run
        self.rm = rm
        self.helpers = helpers  # left-behind processes + docker-proxy for its address
        self.rm_helpers = len(rm_left)
        self.left = left + rm_left


def speedup_check(row):
    r = median(row.ratios)
    if r is None:
        return None, "no docker runs"
    return 1 / r >= SPEEDUP_TARGET, "" if 1 / r >= SPEEDUP_TARGET else f"only {1 / r:.0f}x"


def flat_check(row):
    r = median(row.ratios)
    if r is None:
        return None, ""
    return r <= FLAT_LIMIT, "" if r <= FLAT_LIMIT else f"{r:.2f}x slower with the rules there"


MICRO = [
    "portspec/parse_all_10k_specs",
    "plan/plan_10k_bindings",
    "plan/plan_and_restore_text_10k_bindings",
    "render/list_nL_10k_rules",
    "render/list_nvL_10k_rules",
]


def range_flags(n):
    last = 20000 + n - 1
    return ["-p", "20000:20000"] if n == 1 else ["-p", f"20000-{last}:20000-{last}"]


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


# ---------------------------------------------------------------------------------
# rules: berth's own lines (from `berth run --dry-run`), with fake ids and addresses


def templates(berth):
    """The rules berth's planner writes for one container, per kind, with the
    placeholders CONTAINER_ID and CONTAINER_IP and host port 20999 (to substitute)."""
    kinds = {
        "tcp": ["-p", "20999:80"],
        "local-udp": ["-p", "127.0.0.1:20999:53/udp"],
    }
    out = {}
    for kind, flags in kinds.items():
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
            elif line.startswith("-A "):
                tables.setdefault(table, []).append(line)
        out[kind] = tables
    return out


def fake_id(i):
    return f"{FAKE_PREFIX}{i:04x}"


def fake_ip(i):
    return f"172.30.{i // 250}.{i % 250 + 2}"


def fill(line, i, port):
    return (
        line.replace("CONTAINER_ID", fake_id(i))
        .replace("CONTAINER_IP", fake_ip(i))
        .replace("--dport 20999 ", f"--dport {port} ")
    )


def fake_containers(tpl, first, end):
    """iptables-restore --noflush text for fake containers first..end-1, each
    `-p 30xxx:80`: the exact lines berth's planner produces, in every table."""
    sections = {}
    for i in range(first, end):
        for table, lines in tpl["tcp"].items():
            sections.setdefault(table, []).extend(fill(x, i, 30000 + i) for x in lines)
    text = ""
    count = 0
    for table in ("raw", "nat", "filter"):
        if table in sections:
            text += f"*{table}\n" + "\n".join(sections[table]) + "\nCOMMIT\n"
            count += len(sections[table])
    return text, count


def nat_table(tpl, n):
    """A whole nat table (iptables-restore input) of about n rules: berth's base jumps
    and the nat rules of fake containers of four kinds (a port, a 127.0.0.1 udp port,
    an identical range, a shifted range; the range lines in the planner's format)."""
    rules = [
        "-A PREROUTING -m addrtype --dst-type LOCAL -j BERTH",
        "-A OUTPUT -m addrtype --dst-type LOCAL -j BERTH",
        "-A POSTROUTING -j BERTH-POSTROUTING",
    ]
    i = 0
    while len(rules) < n:
        kind = i % 4
        port = 20000 + i % 1000
        cid, ip = fake_id(i), fake_ip(i)
        tag = f'-m comment --comment "berth:{cid}"'
        if kind == 0:
            rules += [fill(x, i, port) for x in tpl["tcp"]["nat"]]
        elif kind == 1:
            rules += [fill(x, i, port) for x in tpl["local-udp"]["nat"]]
        elif kind == 2:
            a, b = 30000 + (i % 100) * 10, 30000 + (i % 100) * 10 + 9
            rules += [
                f"-A BERTH ! -i docker0 -p tcp -m tcp --dport {a}:{b} {tag} -j DNAT --to-destination {ip}",
                f"-A BERTH-POSTROUTING -s {ip}/32 -d {ip}/32 -p tcp -m tcp --dport {a}:{b} {tag} -j MASQUERADE",
            ]
        else:
            a, b = 30000 + (i % 100) * 10, 30000 + (i % 100) * 10 + 9
            rules += [
                f"-A BERTH ! -i docker0 -p tcp -m tcp --dport {a}:{b} {tag} -j DNAT --to-destination {ip}:7000-7009/{a}",
                f"-A BERTH-POSTROUTING -s {ip}/32 -d {ip}/32 -p tcp -m tcp --dport 7000:7009 {tag} -j MASQUERADE",
            ]
        i += 1
    rules = rules[:n]
    head = [
        "*nat",
        ":PREROUTING ACCEPT [0:0]",
        ":INPUT ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        ":POSTROUTING ACCEPT [0:0]",
        ":BERTH - [0:0]",
        ":BERTH-POSTROUTING - [0:0]",
    ]
    return "\n".join(head + rules + ["COMMIT", ""]), len(rules)


def count_fake_rules():
    save = sh(["iptables-save"], check=False)
    return sum(1 for line in save.splitlines() if line.startswith("-A ") and f'--comment "berth:{FAKE_PREFIX}' in line)


def remove_fake_rules():
    """Delete every rule tagged berth:bec40000xxxx (ours) in every table, in one call.
    Another process (a `berth nat sync` removes orphans) may take some of them away
    between our save and restore: then save again and retry."""
    removed = 0
    for _ in range(5):
        save = sh(["iptables-save"], check=False)
        sections = {}
        table = None
        for line in save.splitlines():
            if line.startswith("*"):
                table = line[1:]
            elif line.startswith("-A ") and f'--comment "berth:{FAKE_PREFIX}' in line:
                sections.setdefault(table, []).append("-D " + line[3:])
        if not sections:
            return removed
        text = "".join(f"*{t}\n" + "\n".join(lines) + "\nCOMMIT\n" for t, lines in sections.items())
        r = subprocess.run(["iptables-restore", "--noflush", "--wait"], input=text.encode(), capture_output=True)
        if r.returncode == 0:
            return removed + sum(len(x) for x in sections.values())
        time.sleep(0.2)
    raise RuntimeError("cannot remove the fake rules (tags berth:" + FAKE_PREFIX + "xxxx): " + r.stderr.decode(errors="replace").strip())


# ---------------------------------------------------------------------------------
# cleanup, machine, output


def cleanup(berth):
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
    n = remove_fake_rules()
    if n:
        log(f"cleanup: removed {n} fake rules")
    for line in sh(["ip", "netns", "list"], check=False).splitlines():
        ns = line.split()[0] if line.split() else ""
        if ns.startswith(ANY_PREFIX):
            log(f"cleanup: deleting network namespace {ns}")
            sh(["ip", "netns", "del", ns], check=False)
    leftover_children()


def machine(berth):
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
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    rev = first(["git", "-C", root, "rev-parse", "--short", "HEAD"])
    dirty = first(["git", "-C", root, "status", "--porcelain", "--", "src", "Cargo.toml"])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "kernel": platform.release(),
        "docker": first(["docker", "version", "--format", "{{.Server.Version}}"]),
        "iptables": first(["iptables", "--version"]),
        "berth": first([berth, "--version"]),
        "commit": rev + (" (with uncommitted changes in src/)" if dirty else ""),
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
    }


def main():
    ap = argparse.ArgumentParser(description="berth vs docker, for real (see scripts/bench)")
    ap.add_argument("--berth", required=True, help="the berth binary")
    ap.add_argument("--quick", action="store_true", help="small docker cases only, 3 runs: < 2 minutes")
    ap.add_argument("--reps", type=int, default=0, help="runs per case (default 5, --quick 3)")
    ap.add_argument("--docker-reps-1000", type=int, default=3, help="docker runs for the 1000-port cases (default 3)")
    ap.add_argument("--only", action="append", choices=["version", "publish", "natls", "ps", "scaling", "existing", "micro"], help="run only these phases (repeatable)")
    ap.add_argument("--cases", default="", help="publish phase: only cases whose label matches this regex (e.g. '^range 1000$')")
    ap.add_argument("--no-docker", action="store_true", help="berth only in the publish phase")
    ap.add_argument("--micro", action="store_true", help="run the criterion micro-benchmarks in --quick too")
    ap.add_argument("--json", default="", help="where to write the JSON (default: <target>/bench/bench-<mode>.json)")
    args = ap.parse_args()
    if not args.json:
        target = os.path.dirname(os.path.dirname(os.path.abspath(args.berth)))
        part = "-" + "-".join(args.only) if args.only else ""
        args.json = os.path.join(target, "bench", f"bench-{'quick' if args.quick else 'full'}{part}.json")
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)

    # every orphaned descendant of a command becomes our child: "any child left" check
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        log("warning: cannot become a child subreaper; left-behind processes go uncounted")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    started = time.time()
    info = machine(args.berth)
    bench = Bench(args)
    if args.cases:
        pattern = re.compile(args.cases)
        all_cases = bench.publish_cases
        bench.publish_cases = lambda: [c for c in all_cases() if pattern.search(c[0])]
    interrupted = False
    cleanup(args.berth)
    try:
        bench.run()
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: cleaning up (this can take a while after a docker 1000-port case)")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        cleanup(args.berth)
    info["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    elapsed = time.time() - started

    mode = "quick" if args.quick else "full"
    print()
    print(f"berth bench ({mode}{', interrupted' if interrupted else ''}), {elapsed:.0f} s, "
          f"{info['cores']} cores ({info['cpu']}), load {' '.join(info['loadavg_start'])} -> {' '.join(info['loadavg_end'])}")
    print(f"{info['berth']} ({info['commit']}), docker {info['docker']}, {info['iptables']}")
    print("times are medians; ratio = median of per-pair berth/other (interleaved runs); the host is shared, so prefer the ratios")
    print()
    print(table(bench.rows))
    if bench.scaling:
        print()
        print("scaling: berth run -d / rm -f with N published ports (median ms)")
        print(scaling_table(bench.scaling))
    if bench.existing:
        print()
        print("one more container while other containers' rules exist (median ms; fake rules, see notes)")
        print(existing_table(bench.existing))
    notes = list(bench.notes)
    for r in bench.rows:
        if len(r.berth) >= 3 and not r.case.startswith("publish overhead") and median(r.berth) > 0 and max(r.berth) > 3 * median(r.berth):
            r.notes.append(f"berth outlier: {max(r.berth):.0f} ms (median {median(r.berth):.0f} ms)")
    for r in bench.rows:
        for n in r.notes:
            notes.append(f"{r.case}: {n}")
    if notes:
        print()
        print("notes:")
        for n in dict.fromkeys(notes):
            print(f"- {n}")
    failed = [r.case for r in bench.rows if r.verdict()[0] is False]
    doc = {
        "mode": mode,
        "interrupted": interrupted,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(elapsed),
        "machine": info,
        "rows": [r.to_json() for r in bench.rows],
        "scaling": bench.scaling,
        "existing": bench.existing,
        "notes": list(dict.fromkeys(notes)),
        "failed": failed,
    }
    with open(args.json, "w") as f:
        json.dump(doc, f, indent=1)
    print()
    print(f"{len(failed)} target(s) missed; JSON: {args.json}")
    return 130 if interrupted else 0


def existing_table(series):
    counts = sorted({int(k) for e in series for k in e["ms_by_containers_there"]})
    head = ["case"] + [f"{c} there" for c in counts] + ["0 (after removal)"]
    lines = []
    for e in series:
        by = e["ms_by_containers_there"]
        lines.append([e["case"]] + [fmt_time(by.get(str(c))) for c in counts] + [fmt_time(e["ms_none_after_removal"])])
    return render_table(head, lines)


def render_table(head, lines):
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    fmt = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    return "\n".join([fmt(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [fmt(x) for x in lines])


def scaling_table(points):
    by_n = {}
    for p in points:
        by_n.setdefault(p["ports"], {})[p["kind"]] = p
    head = ["N", "range: run -d", "range: rm -f", "separate: run -d", "separate: rm -f", "max RSS"]
    lines = []
    for n in sorted(by_n):
        r, s = by_n[n].get("range", {}), by_n[n].get("separate", {})
        rss = max([x for x in (r.get("max_rss_mb"), s.get("max_rss_mb")) if x is not None] or [0])
        lines.append([n, fmt_time(r.get("run_ms")), fmt_time(r.get("rm_ms")), fmt_time(s.get("run_ms")), fmt_time(s.get("rm_ms")), f"{rss:.1f} MB"])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    fmt = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    return "\n".join([fmt(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [fmt(x) for x in lines])


if __name__ == "__main__":
    sys.exit(main())
