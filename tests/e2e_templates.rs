//! berth's Go template engine against the docker CLI itself: for each template,
//! `docker inspect -f TEMPLATE NAME` (stdout, or the error on stderr) must equal the
//! engine applied to the JSON of `docker inspect NAME`, the way `docker inspect`
//! applies it (the typed pass, then the raw JSON with missingkey=error).

mod common;

use std::process::Command;

use berth::present::template::{Options, Template, docker};
use common::*;

/// A container made with the docker CLI, removed when dropped (also on failure).
struct DockerContainer {
    name: String,
}

impl DockerContainer {
    /// `docker create` (or another subcommand that makes a container, as `run -d`).
    fn make(how: &[&str], what: &str, args: &[&str]) -> DockerContainer {
        let name = unique(what);
        let c = DockerContainer { name };
        let o = docker_cli()
            .args(how)
            .args(["--name", &c.name])
            .args(args)
            .output()
            .expect("run docker");
        assert!(
            o.status.success(),
            "docker {how:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        c
    }

    fn create(what: &str, args: &[&str]) -> DockerContainer {
        DockerContainer::make(&["create"], what, args)
    }

    fn docker(&self, args: &[&str]) -> String {
        let o = docker_cli()
            .args(args)
            .arg(&self.name)
            .output()
            .expect("run docker");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn inspect_json(&self) -> serde_json::Value {
        let o = docker_cli()
            .args(["inspect", &self.name])
            .output()
            .expect("run docker inspect");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let all: serde_json::Value = serde_json::from_slice(&o.stdout).expect("inspect JSON");
        all[0].clone()
    }
}

impl Drop for DockerContainer {
    fn drop(&mut self) {
        let _ = docker_cli().args(["rm", "-f", "-v", &self.name]).output();
    }
}

/// A named volume, removed when dropped (after the container using it).
struct DockerVolume {
    name: String,
}

impl Drop for DockerVolume {
    fn drop(&mut self) {
        let _ = docker_cli()
            .args(["volume", "rm", "-f", &self.name])
            .output();
    }
}

/// What `docker inspect -f` printed: Ok(stdout) or Err(stderr) with its exit code.
fn docker_format(name: &str, template: &str) -> Result<String, (i32, String)> {
    let o = docker_cli()
        .args(["inspect", "-f", template, name])
        .output()
        .expect("run docker inspect -f");
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err((
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        ))
    }
}

/// What berth's engine gives, shaped like docker's output.
fn berth_format(data: &serde_json::Value, template: &str) -> Result<String, (i32, String)> {
    let t =
        Template::parse(template).map_err(|e| (64, format!("template parsing error: {e}\n")))?;
    t.inspect(data, Some(&docker::CONTAINER))
        .map(|out| format!("{out}\n"))
        .map_err(|e| (1, format!("template parsing error: {e}\n")))
}

/// Runs every template through both and reports all differences at once
/// (`TMPL_DEBUG=1` prints both outputs of every template).
fn compare(c: &DockerContainer, templates: &[&str]) {
    let data = c.inspect_json();
    let mut failures = Vec::new();
    for t in templates {
        let want = docker_format(&c.name, t);
        let got = berth_format(&data, t);
        if std::env::var("TMPL_DEBUG").is_ok() {
            eprintln!("{t:?}\n  docker {want:?}\n  berth  {got:?}");
        }
        if want != got {
            failures.push(format!(
                "template {t:?}\n  docker: {want:?}\n  berth:  {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} templates differ from docker:\n{}",
        failures.len(),
        templates.len(),
        failures.join("\n")
    );
}

const CREATED: &[&str] = &[
    // fields, typed and raw (a Go name that is not the JSON key switches to the raw pass)
    "{{.Name}}",
    "{{.Id}}",
    "{{.ID}}",
    "{{.Created}}",
    "{{.Path}} {{.Args}}",
    "{{.State.Status}} {{.State.Running}} {{.State.Pid}} {{.State.ExitCode}}",
    "{{.State.StartedAt}}",
    "{{.RestartCount}} {{.Driver}} {{.Platform}}",
    "{{.Config.Env}}",
    "{{.Config.Cmd}}",
    "{{.Config.Image}}",
    "{{.Config.Hostname | len}}",
    "{{.HostConfig.Memory}} {{.HostConfig.ShmSize}}",
    "{{.HostConfig.NetworkMode}}",
    "{{.GraphDriver.Name}}",
    // nil slices, maps and pointers of the typed structs
    "{{.Config.Entrypoint}}",
    "{{.Config.Volumes}}",
    "{{.ExecIDs}} {{.HostConfig.Binds}} {{.HostConfig.CapAdd}}",
    "{{.HostConfig.PidsLimit}} {{.HostConfig.MemorySwappiness}}",
    "{{.HostConfig.OomKillDisable}}",
    "{{.HostConfig.DNS}} {{.HostConfig.DNSSearch}}",
    "{{.HostConfig.Dns}}",
    "{{.HostConfig.CpuShares}} {{.HostConfig.CPUShares}}",
    "{{.State.Health}}",
    "{{.Config.Healthcheck}}",
    "{{json .State.Health}}",
    "{{.Id}} {{.Config.Entrypoint}}",
    // maps (sorted keys), structs, arrays
    "{{.Config.Labels}}",
    "{{.Config.ExposedPorts}}",
    "{{.HostConfig.PortBindings}}",
    "{{.HostConfig.RestartPolicy}}",
    "{{.HostConfig.LogConfig}}",
    "{{.HostConfig.ConsoleSize}}",
    "{{.State}}",
    "{{.Config.Labels.k}}|{{.Config.Labels.missing}}",
    "{{.NetworkSettings.Networks.bridge.Aliases}}",
    "{{(index .NetworkSettings.Networks \"bridge\").IPAMConfig}}",
    "{{.NetworkSettings.Ports}}",
    // json
    "{{json .Config.Labels}}",
    "{{json .Config.Env}}",
    "{{json .Mounts}}",
    "{{json .HostConfig.PortBindings}}",
    "{{json .HostConfig.PidsLimit}} {{json .Config.Entrypoint}}",
    "{{json .State}}",
    "{{json .Config}}",
    "{{json .HostConfig}}",
    "{{json .HostConfig.LogConfig}}",
    "{{json .NetworkSettings}}",
    "{{json .GraphDriver}}",
    "{{json .}}",
    "{{json (index .Config.Env 1)}}",
    "{{json 1.5}} {{json 1e21}} {{json 1e-7}} {{json 100.0}} {{json nil}} {{json \"a<b>\"}}",
    // index, slice, len
    "{{index .Config.Labels \"k\"}}",
    "{{index .Config.Labels \"missing\"}}",
    "{{(index (index .HostConfig.PortBindings \"80/tcp\") 0).HostPort}}",
    "{{index .HostConfig.PortBindings \"80/tcp\"}}",
    "{{index .Config.Env 1}} {{index .Name 1}}",
    "{{slice .Config.Env 1}} {{slice .Config.Env 0 1}} {{slice .Name 1 4}}",
    "{{len .Config.Env}} {{len .Config.Labels}} {{len .Name}} {{len .Config.Entrypoint}}",
    "{{index .Config.Env 1 | len}}",
    // range, with, if, else
    "{{range .Config.Env}}{{.}},{{end}}",
    "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
    "{{range $i, $e := .Args}}{{$i}}:{{$e}} {{end}}",
    "{{range $p, $b := .HostConfig.PortBindings}}{{$p}} -> {{(index $b 0).HostPort}}{{end}}",
    "{{range $n, $e := .NetworkSettings.Networks}}{{$n}}:{{$e.IPPrefixLen}};{{end}}",
    "{{range .Mounts}}x{{else}}no mounts{{end}}",
    "{{range .Config.Entrypoint}}x{{else}}no entrypoint{{end}}",
    "{{range 3}}{{.}}{{end}} {{range $i := 2}}[{{$i}}]{{end}} {{range 0}}x{{else}}none{{end}}",
    "{{range .Config.Env}}{{if eq . \"B=<x&y>\"}}{{break}}{{end}}{{.}};{{end}}",
    "{{range $i, $e := .Config.Env}}{{if eq $i 0}}{{continue}}{{end}}{{$e}};{{end}}",
    "{{if .Config.Tty}}tty{{else}}no{{end}}",
    "{{if eq .State.Status \"running\"}}r{{else if eq .State.Status \"created\"}}c{{else}}o{{end}}",
    "{{with .Config.Entrypoint}}{{.}}{{else with .Config.Cmd}}cmd {{.}}{{else}}none{{end}}",
    "{{with .State}}{{.Status}}/{{$.Name}}{{end}}",
    "{{range .Config.Env}}{{with $x := .}}[{{$x}}]{{end}}{{end}}",
    // variables, templates, comments, trim markers
    "{{$n := .Name}}{{$n}} {{$n = \"x\"}}{{$n}}",
    "{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}",
    "{{define \"T\"}}[{{.}}]{{end}}{{template \"T\" .Name}}{{template \"T\"}}",
    "{{block \"B\" .Driver}}<{{.}}>{{end}}",
    "{{/* a comment */}}{{.Driver}}",
    "a  {{- .Driver -}}  b {{- /* c */ -}}  c\n{{- \" d \" }}",
    // comparisons and logic
    "{{eq .State.Status \"created\"}} {{ne .RestartCount 0}} {{eq .RestartCount 0 1}}",
    "{{lt 1 2}} {{le 2 2}} {{gt 1.5 2.5}} {{ge \"b\" \"a\"}} {{eq .HostConfig.Memory 0}}",
    "{{and .State.Running .Name}}|{{or .State.Running .Name}}|{{not .State.Running}}",
    "{{and 1 0 2}} {{or 0 \"\" \"x\"}} {{or 0 \"\"}} {{not \"\"}}",
    "{{eq .Config.Entrypoint nil}}",
    // print functions and printf
    "{{println .Id}}",
    "{{print 1 2 \"a\" \"b\" 3 true}}",
    "{{printf \"%s:%d\" .Name 3}}",
    "{{printf \"%q\" .Config.Env}}",
    "{{printf \"%5.2f|%x|%X|%o|%e|%g|%G\" 3.14159 255 255 8 1234.5678 0.000012 1e21}}",
    "{{printf \"%-10s|%10s|%05d|%+d|% d|%x\" .Driver .Platform 42 5 7 \"hi\"}}",
    "{{printf \"%v|%+v|%#v\" .HostConfig.RestartPolicy .HostConfig.RestartPolicy .Config.Labels}}",
    "{{printf \"%T %T %T %T %T\" .State .Config.Cmd .Config.Labels 1 1.5}}",
    "{{printf \"%d %d\" 1}}|{{printf \"%d\" 1 2}}|{{printf \"%z\" .Name}}|{{printf \"%s\" 3}}",
    "{{printf \"%v\" .State}}",
    "{{printf \"%c|%U|%q|%b\" 65 233 9731 5}}",
    "{{.State.Pid | printf \"%04d\"}} {{len .Name | printf \"%x\"}}",
    "{{1e6}} {{1.5}} {{0x1F}} {{'a'}} {{-3}} {{1e21}} {{100.0}} {{123456789.0}} {{0.0001}}",
    // escaping
    "{{html (index .Config.Env 1)}}|{{js (index .Config.Env 1)}}|{{urlquery (index .Config.Env 1)}}",
    // docker's functions
    "{{join .Config.Cmd \" \"}}|{{join .Config.Env \",\"}}",
    "{{join (split .Name \"-\") \"+\"}}",
    "{{upper .Config.Image}} {{lower \"ABC\"}} {{title \"hello wOrld-x y_z\"}}",
    "{{truncate .Id 12}} {{truncate \"ab\" 3}}",
    "[{{pad .Config.Image 2 1}}][{{pad \"\" 2 1}}]",
    "{{split .Name \"-\"}} {{split \"a,b,,c\" \",\"}}",
    // errors (docker prints `template parsing error: ...`)
    "{{.Name",
    "{{if}}",
    "{{foo}}",
    "{{end}}",
    "{{range .Config.Env}}{{break 1}}{{end}}",
    "{{.Name | 3}}",
    "{{\"abc}}",
    "{{.Foo}}",
    "{{.Config.Foo}}",
    "{{.Name.Foo}}",
    "{{.Config.Entrypoint.X}}",
    "{{index .Config.Env 10}}",
    "{{index .Config.Labels 1}}",
    "{{len 3}}",
    "{{template \"x\"}}",
    "{{range .Name}}{{end}}",
    "{{nil}}",
    "{{$x = 2}}",
    "{{eq 1 \"a\"}}",
    "{{.Id}} {{eq .State.Pid 0}}",
    "{{join .Config.Cmd}}",
    "{{and}}",
    "{{truncate .Name -1}}",
];

/// Go's own semantics: fmt verbs and flags, literals, quoting, truth, comparisons, the raw
/// pass (after `.Id`), parse and execution errors.
const GO_SEMANTICS: &[&str] = &[
    "{{printf \"%v %v %v %v %v %v\" 1e20 1e21 123456.0 0.0001 0.00001 -0.0}}",
    "{{printf \"%08.3f|%-8.2f|%+.1e|%.0f|%.3g|%.10g|%g|%G\" -3.14159 2.5 12345.678 2.5 1234567.0 0.1 100000.0 1e-5}}",
    "{{printf \"%e|%E|%.2e|%10.3e|%-10.1f|\" 0.0 123456789.0 0.000123 -5.5 9.99}}",
    "{{printf \"%x|%X|%#x|%#o|%o|%b|%O|%c|%U|%#U|%q\" 255 255 255 8 8 5 8 233 233 233 233}}",
    "{{printf \"%5t|%-5t|%q|%#q|%+q|%x|% x|%#x|% #x|%X\" true false \"a\\\"b\" \"a\" \"é\" \"hi\" \"hi\" \"hi\" \"hi\" \"hi\"}}",
    "{{printf \"%6.2s|%.1s|%-4s|%04s|%.0s|\" \"abc\" \"é\" \"x\" \"ab\" \"z\"}}",
    "{{printf \"%05d|%-5d|%+05d|% 05d|%.3d|%8.3d|%x|%-#8x|\" -42 -42 42 42 7 7 -255 255}}",
    "{{printf \"%[2]d %[1]d\" 1 2}}|{{printf \"%[3]d\" 1}}|{{printf \"%*d|%-*d|\" 4 1 4 2}}|{{printf \"%.*f\" 2 3.14159}}|{{printf \"%*d\" \"a\" 1}}",
    "{{printf \"%!\"}}|{{printf \"%\"}}|{{printf \"%z\" 1}}|{{printf \"100%%\"}}|{{printf \"%d %s\" 1}}|{{printf \"%s\" 1 2 \"x\"}}",
    "{{printf \"%d|%s|%v\" .Config.Env .Config.Env .Config.Env}}",
    "{{printf \"%s\" .State}}",
    "{{printf \"%d\" .HostConfig.PortBindings}}",
    "{{printf \"%v %v|%s %d\" nil .Config.Entrypoint nil nil}}",
    "{{printf \"%+v\" .HostConfig.LogConfig}}|{{printf \"%#v\" .HostConfig.LogConfig}}",
    "{{printf \"%#v|%#v|%#v|%#v\" .Config.Entrypoint .State.Pid .HostConfig.ConsoleSize .HostConfig.PidsLimit}}",
    "{{printf \"%#v|%#v|%#v|%#v|%#v\" 1.5 \"a\" true .Mounts .Config.ExposedPorts}}",
    "{{printf \"%x|%X|%s|%10v|\" .Name .Driver .Config.ExposedPorts .Driver}}",
    "{{printf \"%T|%T|%T|%T|%T\" 'a' .HostConfig.ShmSize .HostConfig.BlkioWeight .HostConfig.NetworkMode nil}}",
    "{{print nil 1 nil}}|{{println 1 \"a\" nil}}",
    "{{print .Config.Entrypoint .Config.Volumes .HostConfig.PidsLimit}}",
    "{{html \"<a href=\\\"x\\\">&'</a>\"}}|{{js \"a'b\\\"c<d>=&\\\\ é\\t\"}}|{{urlquery \"a b&c=d/é~\"}}",
    "{{html 1 \"<\"}} {{js 3}} {{urlquery \"a b\" \"c\"}} {{html .Config.Labels.missing}}",
    "{{len \"héllo\"}} {{index \"héllo\" 1}} {{slice \"héllo\" 0 3}}",
    "{{eq \"a\" \"a\" \"b\"}} {{eq true true}} {{ne .Name .Driver}} {{eq .HostConfig.ShmSize 67108864}}",
    "{{lt \"a\" \"b\"}} {{lt \"B\" \"a\"}} {{gt .HostConfig.ShmSize 1}} {{le 1.5 1.5}} {{ge 2 3}}",
    "{{not .Config.Env}} {{not .Config.Entrypoint}} {{not 0.0}} {{and 1 .Config.Entrypoint 2}}",
    "{{if .Config.Labels}}has{{end}} {{if .Config.Volumes}}v{{else}}nov{{end}} {{if .State}}st{{end}}",
    "{{with .HostConfig.PidsLimit}}{{.}}{{else}}nolimit{{end}}",
    "{{range $v := .Config.Labels}}{{$v}}{{end}}",
    "{{range .Config.Env}}{{range $.Args}}{{.}}{{end}}{{end}}",
    "{{(len .Config.Env) | printf \"%d items\"}} {{printf \"%s\" (print 1 2)}}",
    "{{(index .NetworkSettings.Networks \"bridge\").NetworkID | len}}",
    "{{.Name | printf \"%s-%s\" \"a\"}} {{3 | printf \"%d %d\" 4}} {{1 | not}} {{\"x\" | len}}",
    "{{`a\\nb`}} {{\"\\u00e9\\x41\\101\\t|\"}} {{'\\n'}} {{'\\x41'}} {{'é'}}",
    "{{0b101}} {{0o17}} {{017}} {{1_000}} {{0x_1F}} {{+5}} {{.5}} {{1e3}} {{9223372036854775807}}",
    "{{1.0 | printf \"%v\"}} {{-1.5e-10}} {{1e100}}",
    "x {{- /* c */}} y {{/* c */ -}} z",
    "a\n  {{- .Driver}}\n  b {{.Driver -}}\n\n c",
    "{{\"héllo\" | upper}} {{title \"élan vital\"}} {{lower \"ÀÉ\"}} {{upper \"straße\"}}",
    "{{$x := 1}}{{$y := 2}}{{$x}}{{$y}}{{$x = $y}}{{$x}}",
    "{{range $i, $e := .Config.Env}}{{$i}}{{end}}{{$i := 5}}{{$i}}",
    // the raw pass: map[string]any, json.Number
    "{{.Id}} {{.HostConfig.RestartPolicy}} {{.State}} {{.HostConfig.ConsoleSize}}",
    "{{.Id}} {{printf \"%v %d %T %T %T\" .State.Pid .State.Pid .Config.Env .State .State.Running}}",
    "{{.Id}} {{len .State.Pid}} {{index .Config.Env 0}} {{slice .Config.Env 1}} {{index .Config.Labels \"x\"}}",
    "{{.Id}} {{range $k, $v := .HostConfig.RestartPolicy}}{{$k}}={{$v}} {{end}}",
    "{{.Id}} {{json .State}} {{json .HostConfig.PortBindings}} {{json .Config.Entrypoint}}",
    "{{.Id}} {{.Config.ExposedPorts}} {{.HostConfig.LogConfig}} {{.HostConfig.Binds}}",
    "{{.Id}} {{eq .State.Status \"created\"}} {{eq .State.Pid \"0\"}} {{if .State.Pid}}t{{end}}",
    // not here: `join` of a non-[]string ({{.Id}} {{join .Config.Env ","}}), which
    // docker v29 joins and the v28 client on this machine rejects
    // errors
    "{{printf}}",
    "{{printf 1}}",
    "{{printf .State.Pid}}",
    "{{split 1 \",\"}}",
    "{{pad \"x\" \"a\" 1}}",
    "{{truncate \"x\" 1.5}}",
    "{{index nil 1}}",
    "{{len nil}}",
    "{{slice .Name 3 1}}",
    "{{slice .Name 0 100}}",
    "{{index .Name 100}}",
    "{{.Config.Env.X}}",
    "{{(split .Name \"-\").X}}",
    "{{range $i, $e := 3}}{{end}}",
    "{{range $a, $b, $c := .Config.Env}}{{end}}",
    "{{with $x, $y := 1}}{{end}}",
    "{{$x := 1}}{{$x.Foo}}",
    "{{define \"a\"}}x{{end}}{{define \"a\"}}y{{end}}",
    "{{else}}",
    "{{if 1}}{{else}}{{else}}{{end}}",
    "{{range}}{{end}}",
    "{{.Name .Driver}}",
    "{{\"a\" \"b\"}}",
    "{{(1) 2}}",
    "{{.Name | .Driver}}",
    "{{$ | len}}",
    "{{/* x */ .Name}}",
    "{{/* x }}",
    "{{.Name}",
    "{{.Name-1}}",
    "{{-.Name}}",
    "{{9223372036854775808}}",
    "{{99999999999999999999}}",
    "{{eq 1 1.0}}",
    "{{lt 1.5 2}}",
    "{{lt true false}}",
    "{{eq .Config.Cmd .Config.Cmd}}",
    "{{call .Name}}",
    "{{\"\\q\"}}",
    "{{'ab'}}",
    "{{1 2}}",
    "{{.Name (}}",
    "{{range .Config.Env}}{{end}}{{continue}}",
    "{{with 1}}{{break}}{{end}}",
    "{{template \"a\" 1 2}}",
    "{{block \"b\"}}{{end}}",
    "{{printf \"%d\" .Config.Labels.missing}}",
    // error locations on later lines
    "a\n{{.X",
    "{{if .Name}}\n{{",
    "{{.Name\n\n.Driver",
    "{{\n.Name\n}}",
    "x\n{{.Foo}}",
    "x\n  {{index .Name 10}}",
    "{{define \"a\"}}\n{{.Nope}}{{end}}{{template \"a\" .}}",
    "{{\"a\nb\"}}",
    "{{range .Config.Env}}\n{{break}}{{end}}{{.Foo}}",
];

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn go_semantics_match_docker() {
    let c = DockerContainer::create(
        "tmplgo",
        &[
            "-e",
            "A=1",
            "-e",
            "B=<x&y>",
            "-l",
            "k=v",
            "-p",
            "8080:80",
            "busybox:latest",
            "sleep",
            "1",
        ],
    );
    compare(&c, GO_SEMANTICS);
}

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn inspect_templates_of_a_created_container_match_docker() {
    let c = DockerContainer::create(
        "tmpl",
        &[
            "-e",
            "A=1",
            "-e",
            "B=<x&y>",
            "-l",
            "k=v",
            "--label",
            "other=2",
            "-p",
            "8080:80",
            "busybox:latest",
            "sleep",
            "1",
        ],
    );
    compare(&c, CREATED);
}

/// A running container with more set: published ports, one volume, ulimits, DNS, a
/// health check (durations), restart policy, resources.
const RUNNING: &[&str] = &[
    "{{.State.Status}} {{.State.Running}} {{gt .State.Pid 0}}",
    "{{.NetworkSettings.Ports}}",
    "{{json .NetworkSettings.Ports}}",
    "{{(index (index .NetworkSettings.Ports \"80/tcp\") 0).HostIp}}",
    "{{range $p, $conf := .NetworkSettings.Ports}}{{$p}}={{(index $conf 0).HostPort}} {{end}}",
    "{{.NetworkSettings.IPAddress}} {{.NetworkSettings.IPPrefixLen}} {{.NetworkSettings.Gateway}}",
    "{{range .NetworkSettings.Networks}}{{.IPAddress}}/{{.IPPrefixLen}} via {{.Gateway}}{{end}}",
    "{{.NetworkSettings.Networks.bridge.MacAddress}}",
    "{{json .NetworkSettings}}",
    "{{.Mounts}}",
    "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.RW}} {{.Driver}}{{end}}",
    "{{json .Mounts}}",
    "{{.HostConfig.Binds}}",
    "{{.HostConfig.Ulimits}} {{(index .HostConfig.Ulimits 0)}}",
    "{{printf \"%v|%s\" (index .HostConfig.Ulimits 0) .HostConfig.Ulimits}}",
    "{{(index .HostConfig.Ulimits 0).Soft}} {{json .HostConfig.Ulimits}}",
    "{{.HostConfig.PidsLimit}} {{.HostConfig.MemorySwappiness}} {{.HostConfig.Init}}",
    "{{json .HostConfig.PidsLimit}} {{json .HostConfig.Init}}",
    "{{.HostConfig.Dns}} {{.HostConfig.DNS}} {{.HostConfig.DnsSearch}}",
    "{{.HostConfig.Sysctls}} {{.HostConfig.Tmpfs}}",
    "{{.HostConfig.RestartPolicy}} {{.HostConfig.RestartPolicy.Name}}",
    "{{.HostConfig.Memory}} {{.HostConfig.CPUShares}} {{.HostConfig.Resources.Memory}}",
    "{{.Config.Healthcheck}}",
    "{{.Config.Healthcheck.Interval}} {{.Config.Healthcheck.Timeout}} {{.Config.Healthcheck.Retries}}",
    "{{printf \"%v %d %s\" .Config.Healthcheck.Interval .Config.Healthcheck.Interval .Config.Healthcheck.Timeout}}",
    "{{json .Config.Healthcheck}}",
    "{{.State.Health.Status}} {{len .State.Health.Log}}",
    "{{json .State.Health}}",
    "{{.Config.StopTimeout}} {{.Config.StopSignal}} {{.Config.User}} {{.Config.WorkingDir}}",
    "{{.Config.Entrypoint}} {{.Config.Cmd}} {{json .Config.Entrypoint}}",
    "{{.Config.Volumes}}",
    "{{json .Config}}",
    "{{json .HostConfig}}",
    "{{json .State}}",
    "{{json .}}",
    "{{.State.Health.Nope}}",
    "{{.Id}} {{.Config.Healthcheck}}",
];

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn inspect_templates_of_a_running_container_match_docker() {
    let volume = DockerVolume {
        name: unique("vol"),
    };
    let mount = format!("{}:/data", volume.name);
    let c = DockerContainer::make(
        &["run", "-d"],
        "tmplrun",
        &[
            "-p",
            "127.0.0.1::80",
            "-v",
            &mount,
            "--ulimit",
            "nofile=1024:2048",
            "--dns",
            "192.0.2.53",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--tmpfs",
            "/run",
            "--init",
            "--pids-limit",
            "100",
            "--memory",
            "64m",
            "--cpu-shares",
            "512",
            "--restart",
            "on-failure:3",
            "--stop-timeout",
            "5",
            "--stop-signal",
            "SIGTERM",
            "-u",
            "1000",
            "-w",
            "/tmp",
            "--health-cmd",
            "true",
            "--health-interval",
            "1h",
            "--health-timeout",
            "90s",
            "--entrypoint",
            "sleep",
            "busybox:latest",
            "300",
        ],
    );
    compare(&c, RUNNING);
}

/// An exited container that ran health checks: time.Time values of the health log.
const EXITED: &[&str] = &[
    "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}",
    "{{.State.Health.Status}} {{.State.Health.FailingStreak}}",
    "{{range .State.Health.Log}}{{.Start}} {{.End}} {{.ExitCode}} {{printf \"%q\" .Output}};{{end}}",
    "{{printf \"%v\" (index .State.Health.Log 0)}}",
    "{{(index .State.Health.Log 0)}}",
    "{{printf \"%T %T\" (index .State.Health.Log 0) (index .State.Health.Log 0).Start}}",
    "{{json .State.Health}}",
    "{{json .State}}",
    "{{.NetworkSettings.Ports}} {{.NetworkSettings.IPAddress}}",
    "{{json .}}",
];

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn inspect_templates_of_an_exited_container_with_health_logs_match_docker() {
    let c = DockerContainer::make(
        &["run", "-d"],
        "tmplhealth",
        &[
            "--health-cmd",
            "echo ok",
            "--health-interval",
            "1s",
            "busybox:latest",
            "sleep",
            "300",
        ],
    );
    assert!(
        eventually(20, || {
            c.docker(&["inspect", "-f", "{{len .State.Health.Log}}"])
                .trim()
                .parse::<usize>()
                .unwrap_or(0)
                >= 2
        }),
        "no health checks ran"
    );
    c.docker(&["kill"]);
    assert!(eventually(10, || {
        c.docker(&["inspect", "-f", "{{.State.Status}}"]).trim() == "exited"
    }));
    compare(&c, EXITED);
}

/// `docker ps --format` of one container: Ok(stdout) or Err(stderr).
fn docker_ps(name: &str, template: &str) -> Result<String, String> {
    let o = docker_cli()
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("name=^{name}$"),
            "--format",
            template,
        ])
        .output()
        .expect("run docker ps");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    if o.status.success() {
        Ok(out)
    } else {
        Err(err)
    }
}

const PS: &[&str] = &[
    "{{.Names}}",
    "{{.ID}} {{len .ID}}",
    "{{.Image}} {{upper .Image}} {{.State}} {{.Status}}",
    "{{.Command}} {{.Mounts}}|{{.Networks}}|{{.Ports}}|{{.LocalVolumes}}",
    "{{.Labels}}",
    "{{.Label \"k\"}}|{{.Label \"nope\"}}|{{.Label \"h\"}}",
    "{{\"k\" | .Label}} {{.Label \"k\" | printf \"%q\"}} {{with .Label \"k\"}}[{{.}}]{{end}}",
    "{{printf \"%T %T\" . .ID}}",
    "{{if eq .State \"created\"}}c{{else}}other{{end}}",
    "{{range split .Labels \",\"}}[{{.}}]{{end}}",
    "{{json .Labels}} {{json .Names}}",
    "{{.Label}}",
    "{{.ID \"x\"}}",
    "{{.Foo}}",
    "{{.Names.X}}",
    "{{index . \"ID\"}}",
];

#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn ps_templates_match_docker() {
    let c = DockerContainer::create(
        "tmplps",
        &["-l", "k=v", "-l", "h=<b>&", "busybox:latest", "sleep", "1"],
    );
    let row =
        |json: &str| -> serde_json::Value { serde_json::from_str(json.trim()).expect("ps JSON") };
    let labels: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        c.docker(&["inspect", "-f", "{{json .Config.Labels}}"])
            .trim(),
    )
    .expect("labels");
    let options = || {
        let labels = labels.clone();
        Options::typed(&docker::PS_CONTAINER).method("Label", 1, move |args| {
            let key = args[0].as_str().unwrap_or("");
            Ok(labels.get(key).cloned().unwrap_or_else(|| "".into()))
        })
    };
    let berth_ps = |data: &serde_json::Value, t: &str| -> Result<String, String> {
        let tmpl = Template::parse(t).map_err(|e| format!("failed to parse template: {e}\n"))?;
        tmpl.execute(data, &options())
            .map(|out| format!("{out}\n"))
            .map_err(|e| format!("failed to execute template: {e}\n"))
    };
    let data = row(&docker_ps(&c.name, "{{json .}}").expect("docker ps"));
    let mut failures = Vec::new();
    for t in PS {
        let (want, got) = (docker_ps(&c.name, t), berth_ps(&data, t));
        if want != got {
            failures.push(format!(
                "template {t:?}\n  docker: {want:?}\n  berth:  {got:?}"
            ));
        }
    }
    // {{json .}} marshals the row as json.Marshal does; RunningFor moves with the clock,
    // so the row is the one docker printed
    let json = docker_ps(&c.name, "{{json .}}").expect("docker ps");
    let got = berth_ps(&row(&json), "{{json .}}");
    if got.as_deref() != Ok(json.as_str()) {
        failures.push(format!(
            "{{{{json .}}}}\n  docker: {json:?}\n  berth:  {got:?}"
        ));
    }
    assert!(
        failures.is_empty(),
        "ps templates differ from docker:\n{}",
        failures.join("\n")
    );
}

/// One command line through docker and through berth: (stdout, stderr, exit code).
fn both(args: &[&str]) -> ((String, String, i32), (String, String, i32)) {
    let run = |mut c: Command| {
        let o = c.args(args).output().expect("run");
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .map(|l| match l.strip_prefix("berth: ") {
                    Some(rest) => format!("docker: {rest}\n"),
                    None => format!("{l}\n"),
                })
                .collect::<String>(),
            o.status.code().unwrap_or(-1),
        )
    };
    // relative times ("2 seconds ago") may cross a second between the two commands:
    // compared again (up to three times) before a difference counts
    let mut pair = (run(docker_cli()), run(berth_cmd()));
    for _ in 0..2 {
        if pair.0 == pair.1 {
            break;
        }
        pair = (run(docker_cli()), run(berth_cmd()));
    }
    pair
}

/// `berth ps --format` and `berth inspect -f` as commands, against the docker CLI on the
/// machine: the same output, error text and exit code for each template, including the
/// table header (column names, `.Label`'s header), the check of a template before the
/// list (its errors name the column in the whole `--format`), `json`, `raw`, `-q` with
/// a format (docker's warning), and `inspect` of a missing container among found ones.
#[test]
#[ignore = "needs root, a Docker daemon and iptables: run scripts/test"]
fn ps_and_inspect_commands_format_like_docker() {
    tidy_once();
    let c = DockerContainer::create(
        "tmplcli",
        &[
            "-l",
            "com.example.my-key=v1",
            "-l",
            "h=<b>&",
            "busybox:latest",
            "sleep",
            "1",
        ],
    );
    let filter = format!("name=^{}$", c.name);
    let mut failures = Vec::new();
    // positive control: berth lists the container docker made
    let listed = berth_ok(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"]);
    assert_eq!(listed.trim(), c.name);
    let ps_formats = [
        "{{.Names}}",
        "table {{.Names}}\\t{{.Label \"com.example.my-key\"}}\\t{{.ID}}",
        "table {{.Names}}\\t{{json .Names}}\\t{{upper .Image}}",
        "table {{.Names}} and {{.State}}",
        "  {{.Names}}  ",
        "{{.Nope}}",
        "table {{.Names}}\\t{{.Nope}}",
        "{{.Names",
        "{{index .Names 99}}",
        "json",
        "raw",
        "{{.Labels}}|{{.Label \"h\"}}|{{.Mounts}}|{{.Networks}}|{{.LocalVolumes}}",
        "{{.Size}}",
    ];
    for f in ps_formats {
        for extra in [&[][..], &["-q"][..], &["-s"][..]] {
            let mut args = vec!["ps", "-a", "--filter", &filter, "--format", f];
            args.extend_from_slice(extra);
            let (d, b) = both(&args);
            if d != b {
                failures.push(format!("ps {args:?}\n  docker: {d:?}\n  berth:  {b:?}"));
            }
        }
    }
    // a table with no rows still has its header
    let (d, b) = both(&[
        "ps",
        "-a",
        "--filter",
        "name=^no-such-berth-t$",
        "--format",
        "table {{.Names}}\\t{{.Label \"a.b_c\"}}",
    ]);
    if d != b {
        failures.push(format!("empty table\n  docker: {d:?}\n  berth:  {b:?}"));
    }
    let missing = format!("{}-missing", c.name);
    for f in [
        "{{.Name}}",
        "{{.Id}} {{.ID}}",
        "json",
        "",
        "{{json .Config.Labels}}",
        "{{.Nope}}",
        "{{.Names",
        "{{index .Config.Labels \"com.example.my-key\"}}",
    ] {
        for names in [
            vec![c.name.as_str()],
            vec![c.name.as_str(), missing.as_str()],
        ] {
            let mut args = vec!["inspect", "--type", "container", "--format", f];
            args.extend(names.iter().copied());
            let (d, b) = both(&args);
            if d != b {
                failures.push(format!(
                    "inspect {args:?}\n  docker: {d:?}\n  berth:  {b:?}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "berth's formats differ from docker's:\n{}",
        failures.join("\n")
    );
}
