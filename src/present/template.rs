//! Go's `text/template`, as the docker CLI runs it for `--format` and `inspect -f`, over
//! JSON data (`serde_json::Value`).
//!
//! It follows Go 1.24 (what docker v28/v29 are built with): the lexer and parser (trim
//! markers, comments, pipelines, parenthesised pipelines, variables, `if`/`else if`,
//! `range` with `else`, `break` and `continue`, `with`/`else with`,
//! `define`/`template`/`block`, string, raw string, character and number literals), the
//! evaluator (field chains, missing keys, `range` over arrays, over maps in sorted key
//! order and over integers), the builtins (`and or not len index slice print printf
//! println html js urlquery eq ne lt le gt ge call`) with `fmt`'s printing (`%v` of every
//! kind, the `printf` verbs, flags, width, precision and argument indexes, Go's float
//! formatting), docker's functions (`json split join title lower upper pad truncate`, as
//! docker/cli v29's `templates/templates.go`), and Go's error texts (`template: :1:2:
//! executing "" at <.Foo>: map has no entry for key "Foo"`, `template: :1: unclosed
//! action`). The docker CLI was the oracle (`tests/e2e_templates.rs`).
//!
//! Not supported: complex numbers, methods of Go values other than the ones a caller
//! registers (e.g. `time.Time`'s `.Format`), channels and functions as values (`call`
//! always fails, as no data holds a function), custom delimiters. Nesting deeper than 100
//! (parentheses and control structures together) and template recursion deeper than 1000
//! are errors. Text that Go would print as invalid UTF-8 (`slice`/`truncate` through a
//! multi-byte character) comes out with U+FFFD.
//!
//! Docker executes a template against typed Go structs, not against JSON: a `null`
//! slice prints `[]`, a `null` map `map[]`, an absent `omitempty` pointer `<nil>`, a
//! struct `{a b c}`, and a field must be named as in Go (`.ID`, not `.Id`). `docker
//! inspect` retries a failing template on the raw JSON (`map[string]any`, numbers as
//! `json.Number`, `missingkey=error`), and that retry is what makes `{{.Id}}` or
//! `index .NetworkSettings.Ports "80/tcp"` work. The engine reproduces both: give it a
//! [`GoType`] schema (see [`docker`]) and it evaluates with Go's typed semantics;
//! without one it evaluates JSON as Go does a decoded `map[string]any`.
//! [`Template::inspect`] runs docker inspect's two passes.
//!
//! ```
//! use berth::present::template::{Options, Template, docker};
//! let data = serde_json::json!({"Id": "abc", "Name": "/web", "Config": {"Entrypoint": null}});
//! let t = Template::parse("{{.Name}} {{.Config.Entrypoint}}").unwrap();
//! assert_eq!(t.execute(&data, &Options::new()).unwrap(), "/web <no value>");
//! assert_eq!(t.inspect(&data, Some(&docker::CONTAINER)).unwrap(), "/web []");
//! let t = Template::parse(r#"{{.Names}} {{.Label "k"}}"#).unwrap();
//! let row = serde_json::json!({"Names": "web"});
//! let opts = Options::new().method("Label", 1, |args| Ok(format!("label {}", args[0]).into()));
//! assert_eq!(t.execute(&row, &opts).unwrap(), r#"web label "k""#);
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::ops::Deref;
use std::rc::Rc;

use serde_json::{Map, Number, Value};

// ---------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------

/// A parsed template: the top-level template (named "") and every `{{define}}`d one.
#[derive(Debug, Clone)]
pub struct Template {
    text: String,
    trees: HashMap<String, List>,
}

/// What a missing map key evaluates to (Go's `missingkey` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingKey {
    /// `missingkey=default`: no value, printed as `<no value>`.
    #[default]
    NoValue,
    /// `missingkey=zero`: the zero value of the map's element type.
    Zero,
    /// `missingkey=error`: `map has no entry for key "X"`.
    Error,
}

/// A method of the top-level data (`{{.Label "x"}}`, `{{.ID}}`): its number of
/// arguments and the function, which gets the arguments as JSON values.
type MethodFn<'f> = Box<dyn Fn(&[Value]) -> Result<Value, String> + 'f>;

struct Method<'f> {
    args: usize,
    call: MethodFn<'f>,
}

/// How to execute a template.
#[derive(Default)]
pub struct Options<'f> {
    /// What a missing map key gives.
    pub missing_key: MissingKey,
    /// The Go type of the data; `None` evaluates the JSON as a decoded `map[string]any`.
    pub schema: Option<&'static GoType>,
    /// docker's `HeaderFunctions` (table headers): `json split join title lower upper
    /// truncate` return their first (string) argument unchanged; `pad` still pads.
    pub header_functions: bool,
    methods: HashMap<String, Method<'f>>,
}

impl<'f> Options<'f> {
    /// `map[string]any` semantics, missing keys print `<no value>`.
    pub fn new() -> Self {
        Options::default()
    }

    /// Typed semantics: the data is a value of `schema`.
    pub fn typed(schema: &'static GoType) -> Self {
        Options {
            schema: Some(schema),
            ..Options::default()
        }
    }

    /// docker inspect's fallback: raw JSON with `missingkey=error`.
    pub fn raw() -> Self {
        Options::new().missing_key(MissingKey::Error)
    }

    /// Renders table headers as docker does (see [`Options::header_functions`]).
    pub fn header_functions(mut self) -> Self {
        self.header_functions = true;
        self
    }

    pub fn missing_key(mut self, missing_key: MissingKey) -> Self {
        self.missing_key = missing_key;
        self
    }

    /// Registers a method of the top-level data taking `args` arguments: `.Name` (with no
    /// argument) or `.Name "a" "b"` calls it. Methods come before fields, as in Go. An
    /// error becomes `error calling Name: <error>`.
    pub fn method(
        mut self,
        name: &str,
        args: usize,
        call: impl Fn(&[Value]) -> Result<Value, String> + 'f,
    ) -> Self {
        self.methods.insert(
            name.to_string(),
            Method {
                args,
                call: Box::new(call),
            },
        );
        self
    }
}

impl Template {
    /// Parses `text` as `template.New("").Funcs(docker's functions).Parse(text)` does.
    /// The error is Go's text, e.g. `template: :1: unclosed action`.
    pub fn parse(text: &str) -> Result<Template, String> {
        let items = Lexer::new(text).run();
        let mut p = Parser {
            items,
            idx: 0,
            furthest: 0,
            vars: vec!["$".to_string()],
            trees: HashMap::new(),
            action_line: 0,
            range_depth: 0,
            stack_depth: 0,
        };
        p.parse()?;
        Ok(Template {
            text: text.to_string(),
            trees: p.trees,
        })
    }

    /// Executes the template on `data`; the error is Go's text, e.g. `template: :1:2:
    /// executing "" at <.Foo>: map has no entry for key "Foo"`. Output written before an
    /// error is dropped, as docker drops it.
    pub fn execute(&self, data: &Value, opts: &Options) -> Result<String, String> {
        let ty = match opts.schema {
            Some(t) => Ty::Go(t),
            None => Ty::Raw,
        };
        let dot = Val::V(Data::Ref(data), ty);
        let root = match self.trees.get("") {
            Some(root) => root,
            None => return Ok(String::new()),
        };
        let mut s = State {
            tmpl: self,
            opts,
            root: data,
            name: "",
            node: Loc::None,
            vars: vec![("$", dot.clone())],
            depth: 0,
            out: String::new(),
        };
        match s.walk_list(&dot, root) {
            Ok(()) => Ok(s.out),
            Err(Flow::Err(e)) => Err(e),
            // the parser only accepts break and continue inside range
            Err(_) => Ok(s.out),
        }
    }

    /// `docker inspect -f`: the typed pass (with `schema`), and when it fails the pass on
    /// the raw JSON with `missingkey=error`, whose error is the one returned. The caller
    /// prints `template parsing error: <error>`.
    pub fn inspect(&self, data: &Value, schema: Option<&'static GoType>) -> Result<String, String> {
        if let Some(schema) = schema
            && let Ok(out) = self.execute(data, &Options::typed(schema))
        {
            return Ok(out);
        }
        self.execute(data, &Options::raw())
    }
}

// ---------------------------------------------------------------------------------------
// Go types of the data
// ---------------------------------------------------------------------------------------

/// A Go type, as far as templates see it: how values print, which fields exist, what a
/// `null` or an absent field is. The names are Go's (`%T`, error texts).
#[derive(Debug)]
pub enum GoType {
    /// `interface{}` holding decoded JSON (`map[string]any`, numbers as `json.Number`).
    Interface,
    Bool(&'static str),
    Int(&'static str),
    Uint(&'static str),
    Float(&'static str),
    String(&'static str),
    /// `time.Time`, RFC 3339 text in the JSON.
    Time,
    /// `time.Duration`, nanoseconds in the JSON.
    Duration,
    /// A slice (name, or "" for `[]elem`); `null` is a nil slice.
    Slice(&'static str, &'static GoType),
    /// A fixed-size array: name (or ""), length, element.
    Array(&'static str, usize, &'static GoType),
    /// A map: name (or ""), key, element; `null` is a nil map.
    Map(&'static str, &'static GoType, &'static GoType),
    /// A pointer; `null` is nil.
    Ptr(&'static GoType),
    Struct(&'static StructType),
    /// A type berth does not model: its JSON is used as decoded `map[string]any`.
    Opaque(&'static str),
}

/// A Go struct: name (`container.State`), fields in declaration order.
#[derive(Debug)]
pub struct StructType {
    pub name: &'static str,
    pub fields: &'static [Field],
    /// A `String()` method on the pointer (`*units.Ulimit`), given the struct's JSON.
    pub stringer: Option<fn(&Value) -> String>,
    /// A `MarshalJSON` method, given the struct's JSON.
    pub marshal: Option<fn(&Value) -> String>,
}

/// A struct field: its Go name, its JSON key, its type and `omitempty`; an embedded
/// struct's fields are the parent's (in Go and in the JSON). A `method` is a Go method
/// without arguments whose result the JSON holds (docker ps's columns).
#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub json: &'static str,
    pub ty: &'static GoType,
    pub omitempty: bool,
    pub embedded: bool,
    pub method: bool,
}

impl Field {
    pub const fn new(name: &'static str, ty: &'static GoType) -> Field {
        Field {
            name,
            json: name,
            ty,
            omitempty: false,
            embedded: false,
            method: false,
        }
    }

    /// A method without arguments, its result under its name in the JSON.
    pub const fn method(name: &'static str, ty: &'static GoType) -> Field {
        Field {
            name,
            json: name,
            ty,
            omitempty: false,
            embedded: false,
            method: true,
        }
    }

    /// The field with another JSON key (`json:"Id"`).
    pub const fn json(mut self, json: &'static str) -> Field {
        self.json = json;
        self
    }

    /// The field with `json:",omitempty"`.
    pub const fn omitempty(mut self) -> Field {
        self.omitempty = true;
        self
    }

    /// An embedded (anonymous) struct field.
    pub const fn embedded(name: &'static str, ty: &'static GoType) -> Field {
        Field {
            name,
            json: "",
            ty,
            omitempty: false,
            embedded: true,
            method: false,
        }
    }
}

impl StructType {
    pub const fn new(name: &'static str, fields: &'static [Field]) -> StructType {
        StructType {
            name,
            fields,
            stringer: None,
            marshal: None,
        }
    }
}

pub static STRING: GoType = GoType::String("string");
pub static BOOL: GoType = GoType::Bool("bool");
pub static INT: GoType = GoType::Int("int");
pub static INT64: GoType = GoType::Int("int64");
pub static UINT: GoType = GoType::Uint("uint");
pub static UINT16: GoType = GoType::Uint("uint16");
pub static UINT64: GoType = GoType::Uint("uint64");
pub static UINT8: GoType = GoType::Uint("uint8");
pub static FLOAT64: GoType = GoType::Float("float64");
pub static INTERFACE: GoType = GoType::Interface;
pub static STRINGS: GoType = GoType::Slice("", &STRING);
pub static STRING_MAP: GoType = GoType::Map("", &STRING, &STRING);

/// Docker's Go types, as the docker CLI v28 decodes `docker inspect` (captured with
/// `%T`, `%v` and `json` from the v28.2.2 client).
pub mod docker {
    use super::{
        BOOL, Field, GoType, INT, INT64, STRING, STRING_MAP, STRINGS, StructType, UINT, UINT16,
        UINT64,
    };

    const fn f(name: &'static str, ty: &'static GoType) -> Field {
        Field::new(name, ty)
    }

    const fn m(name: &'static str, ty: &'static GoType) -> Field {
        Field::method(name, ty)
    }

    static STRSLICE: GoType = GoType::Slice("strslice.StrSlice", &STRING);
    static PORT: GoType = GoType::String("nat.Port");
    static EMPTY_T: StructType = StructType::new("struct {}", &[]);
    static EMPTY: GoType = GoType::Struct(&EMPTY_T);
    static PORT_SET: GoType = GoType::Map("nat.PortSet", &PORT, &EMPTY);
    static VOLUME_SET: GoType = GoType::Map("", &STRING, &EMPTY);
    static PORT_BINDING_T: StructType = StructType::new(
        "nat.PortBinding",
        &[f("HostIP", &STRING).json("HostIp"), f("HostPort", &STRING)],
    );
    static PORT_BINDING: GoType = GoType::Struct(&PORT_BINDING_T);
    static PORT_BINDINGS: GoType = GoType::Slice("", &PORT_BINDING);
    static PORT_MAP: GoType = GoType::Map("nat.PortMap", &PORT, &PORT_BINDINGS);
    static INT_PTR: GoType = GoType::Ptr(&INT);
    static INT64_PTR: GoType = GoType::Ptr(&INT64);
    static BOOL_PTR: GoType = GoType::Ptr(&BOOL);
    static TIME: GoType = GoType::Time;
    static DURATION: GoType = GoType::Duration;

    static HEALTH_RESULT_T: StructType = StructType::new(
        "container.HealthcheckResult",
        &[
            f("Start", &TIME),
            f("End", &TIME),
            f("ExitCode", &INT),
            f("Output", &STRING),
        ],
    );
    static HEALTH_RESULT: GoType = GoType::Struct(&HEALTH_RESULT_T);
    static HEALTH_RESULT_PTR: GoType = GoType::Ptr(&HEALTH_RESULT);
    static HEALTH_LOG: GoType = GoType::Slice("", &HEALTH_RESULT_PTR);
    static HEALTH_T: StructType = StructType::new(
        "container.Health",
        &[
            f("Status", &STRING),
            f("FailingStreak", &INT),
            f("Log", &HEALTH_LOG),
        ],
    );
    static HEALTH: GoType = GoType::Struct(&HEALTH_T);
    static HEALTH_PTR: GoType = GoType::Ptr(&HEALTH);
    static STATE_T: StructType = StructType::new(
        "container.State",
        &[
            f("Status", &STRING),
            f("Running", &BOOL),
            f("Paused", &BOOL),
            f("Restarting", &BOOL),
            f("OOMKilled", &BOOL),
            f("Dead", &BOOL),
            f("Pid", &INT),
            f("ExitCode", &INT),
            f("Error", &STRING),
            f("StartedAt", &STRING),
            f("FinishedAt", &STRING),
            f("Health", &HEALTH_PTR).omitempty(),
        ],
    );
    static STATE: GoType = GoType::Struct(&STATE_T);
    static STATE_PTR: GoType = GoType::Ptr(&STATE);

    static HEALTH_CONFIG_T: StructType = StructType::new(
        "v1.HealthcheckConfig",
        &[
            f("Test", &STRINGS).omitempty(),
            f("Interval", &DURATION).omitempty(),
            f("Timeout", &DURATION).omitempty(),
            f("StartPeriod", &DURATION).omitempty(),
            f("StartInterval", &DURATION).omitempty(),
            f("Retries", &INT).omitempty(),
        ],
    );
    static HEALTH_CONFIG: GoType = GoType::Struct(&HEALTH_CONFIG_T);
    static HEALTH_CONFIG_PTR: GoType = GoType::Ptr(&HEALTH_CONFIG);
    static CONFIG_T: StructType = StructType::new(
        "container.Config",
        &[
            f("Hostname", &STRING),
            f("Domainname", &STRING),
            f("User", &STRING),
            f("AttachStdin", &BOOL),
            f("AttachStdout", &BOOL),
            f("AttachStderr", &BOOL),
            f("ExposedPorts", &PORT_SET).omitempty(),
            f("Tty", &BOOL),
            f("OpenStdin", &BOOL),
            f("StdinOnce", &BOOL),
            f("Env", &STRINGS),
            f("Cmd", &STRSLICE),
            f("Healthcheck", &HEALTH_CONFIG_PTR).omitempty(),
            f("ArgsEscaped", &BOOL).omitempty(),
            f("Image", &STRING),
            f("Volumes", &VOLUME_SET),
            f("WorkingDir", &STRING),
            f("Entrypoint", &STRSLICE),
            f("NetworkDisabled", &BOOL).omitempty(),
            f("MacAddress", &STRING).omitempty(),
            f("OnBuild", &STRINGS),
            f("Labels", &STRING_MAP),
            f("StopSignal", &STRING).omitempty(),
            f("StopTimeout", &INT_PTR).omitempty(),
            f("Shell", &STRSLICE).omitempty(),
        ],
    );
    static CONFIG: GoType = GoType::Struct(&CONFIG_T);
    static CONFIG_PTR: GoType = GoType::Ptr(&CONFIG);

    static LOG_CONFIG_T: StructType = StructType::new(
        "container.LogConfig",
        &[f("Type", &STRING), f("Config", &STRING_MAP)],
    );
    static LOG_CONFIG: GoType = GoType::Struct(&LOG_CONFIG_T);
    static RESTART_MODE: GoType = GoType::String("container.RestartPolicyMode");
    static RESTART_POLICY_T: StructType = StructType::new(
        "container.RestartPolicy",
        &[f("Name", &RESTART_MODE), f("MaximumRetryCount", &INT)],
    );
    static RESTART_POLICY: GoType = GoType::Struct(&RESTART_POLICY_T);
    static CONSOLE_SIZE: GoType = GoType::Array("", 2, &UINT);
    static WEIGHT_DEVICE_T: StructType = StructType::new(
        "blkiodev.WeightDevice",
        &[f("Path", &STRING), f("Weight", &UINT16)],
    );
    static WEIGHT_DEVICE: GoType = GoType::Struct(&WEIGHT_DEVICE_T);
    static WEIGHT_DEVICE_PTR: GoType = GoType::Ptr(&WEIGHT_DEVICE);
    static WEIGHT_DEVICES: GoType = GoType::Slice("", &WEIGHT_DEVICE_PTR);
    static THROTTLE_DEVICE_T: StructType = StructType::new(
        "blkiodev.ThrottleDevice",
        &[f("Path", &STRING), f("Rate", &UINT64)],
    );
    static THROTTLE_DEVICE: GoType = GoType::Struct(&THROTTLE_DEVICE_T);
    static THROTTLE_DEVICE_PTR: GoType = GoType::Ptr(&THROTTLE_DEVICE);
    static THROTTLE_DEVICES: GoType = GoType::Slice("", &THROTTLE_DEVICE_PTR);
    static DEVICE_MAPPING_T: StructType = StructType::new(
        "container.DeviceMapping",
        &[
            f("PathOnHost", &STRING),
            f("PathInContainer", &STRING),
            f("CgroupPermissions", &STRING),
        ],
    );
    static DEVICE_MAPPING: GoType = GoType::Struct(&DEVICE_MAPPING_T);
    static DEVICE_MAPPINGS: GoType = GoType::Slice("", &DEVICE_MAPPING);
    static STRINGS_LIST: GoType = GoType::Slice("", &STRINGS);
    static DEVICE_REQUEST_T: StructType = StructType::new(
        "container.DeviceRequest",
        &[
            f("Driver", &STRING),
            f("Count", &INT),
            f("DeviceIDs", &STRINGS),
            f("Capabilities", &STRINGS_LIST),
            f("Options", &STRING_MAP),
        ],
    );
    static DEVICE_REQUEST: GoType = GoType::Struct(&DEVICE_REQUEST_T);
    static DEVICE_REQUESTS: GoType = GoType::Slice("", &DEVICE_REQUEST);
    fn ulimit_string(v: &serde_json::Value) -> String {
        let int = |k: &str| v.get(k).and_then(serde_json::Value::as_i64).unwrap_or(0);
        let name = v
            .get("Name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        format!("{name}={}:{}", int("Soft"), int("Hard"))
    }
    static ULIMIT_T: StructType = StructType {
        name: "units.Ulimit",
        fields: &[f("Name", &STRING), f("Hard", &INT64), f("Soft", &INT64)],
        stringer: Some(ulimit_string),
        marshal: None,
    };
    static ULIMIT: GoType = GoType::Struct(&ULIMIT_T);
    static ULIMIT_PTR: GoType = GoType::Ptr(&ULIMIT);
    static ULIMITS: GoType = GoType::Slice("", &ULIMIT_PTR);
    static RESOURCES_T: StructType = StructType::new(
        "container.Resources",
        &[
            f("CPUShares", &INT64).json("CpuShares"),
            f("Memory", &INT64),
            f("NanoCPUs", &INT64).json("NanoCpus"),
            f("CgroupParent", &STRING),
            f("BlkioWeight", &UINT16),
            f("BlkioWeightDevice", &WEIGHT_DEVICES),
            f("BlkioDeviceReadBps", &THROTTLE_DEVICES),
            f("BlkioDeviceWriteBps", &THROTTLE_DEVICES),
            f("BlkioDeviceReadIOps", &THROTTLE_DEVICES),
            f("BlkioDeviceWriteIOps", &THROTTLE_DEVICES),
            f("CPUPeriod", &INT64).json("CpuPeriod"),
            f("CPUQuota", &INT64).json("CpuQuota"),
            f("CPURealtimePeriod", &INT64).json("CpuRealtimePeriod"),
            f("CPURealtimeRuntime", &INT64).json("CpuRealtimeRuntime"),
            f("CpusetCpus", &STRING),
            f("CpusetMems", &STRING),
            f("Devices", &DEVICE_MAPPINGS),
            f("DeviceCgroupRules", &STRINGS),
            f("DeviceRequests", &DEVICE_REQUESTS),
            f("KernelMemory", &INT64).omitempty(),
            f("KernelMemoryTCP", &INT64).omitempty(),
            f("MemoryReservation", &INT64),
            f("MemorySwap", &INT64),
            f("MemorySwappiness", &INT64_PTR),
            f("OomKillDisable", &BOOL_PTR),
            f("PidsLimit", &INT64_PTR),
            f("Ulimits", &ULIMITS),
            f("CPUCount", &INT64).json("CpuCount"),
            f("CPUPercent", &INT64).json("CpuPercent"),
            f("IOMaximumIOps", &UINT64),
            f("IOMaximumBandwidth", &UINT64),
        ],
    );
    static RESOURCES: GoType = GoType::Struct(&RESOURCES_T);
    static MOUNT_TYPE: GoType = GoType::String("mount.Type");
    static PROPAGATION: GoType = GoType::String("mount.Propagation");
    static CONSISTENCY: GoType = GoType::String("mount.Consistency");
    static BIND_OPTIONS: GoType = GoType::Opaque("mount.BindOptions");
    static VOLUME_OPTIONS: GoType = GoType::Opaque("mount.VolumeOptions");
    static IMAGE_OPTIONS: GoType = GoType::Opaque("mount.ImageOptions");
    static TMPFS_OPTIONS: GoType = GoType::Opaque("mount.TmpfsOptions");
    static CLUSTER_OPTIONS: GoType = GoType::Opaque("mount.ClusterOptions");
    static BIND_OPTIONS_PTR: GoType = GoType::Ptr(&BIND_OPTIONS);
    static VOLUME_OPTIONS_PTR: GoType = GoType::Ptr(&VOLUME_OPTIONS);
    static IMAGE_OPTIONS_PTR: GoType = GoType::Ptr(&IMAGE_OPTIONS);
    static TMPFS_OPTIONS_PTR: GoType = GoType::Ptr(&TMPFS_OPTIONS);
    static CLUSTER_OPTIONS_PTR: GoType = GoType::Ptr(&CLUSTER_OPTIONS);
    static MOUNT_T: StructType = StructType::new(
        "mount.Mount",
        &[
            f("Type", &MOUNT_TYPE).omitempty(),
            f("Source", &STRING).omitempty(),
            f("Target", &STRING).omitempty(),
            f("ReadOnly", &BOOL).omitempty(),
            f("Consistency", &CONSISTENCY).omitempty(),
            f("BindOptions", &BIND_OPTIONS_PTR).omitempty(),
            f("VolumeOptions", &VOLUME_OPTIONS_PTR).omitempty(),
            f("ImageOptions", &IMAGE_OPTIONS_PTR).omitempty(),
            f("TmpfsOptions", &TMPFS_OPTIONS_PTR).omitempty(),
            f("ClusterOptions", &CLUSTER_OPTIONS_PTR).omitempty(),
        ],
    );
    static MOUNT: GoType = GoType::Struct(&MOUNT_T);
    static MOUNTS: GoType = GoType::Slice("", &MOUNT);
    static HOST_CONFIG_T: StructType = StructType::new(
        "container.HostConfig",
        &[
            f("Binds", &STRINGS),
            f("ContainerIDFile", &STRING),
            f("LogConfig", &LOG_CONFIG),
            f("NetworkMode", &GoType::String("container.NetworkMode")),
            f("PortBindings", &PORT_MAP),
            f("RestartPolicy", &RESTART_POLICY),
            f("AutoRemove", &BOOL),
            f("VolumeDriver", &STRING),
            f("VolumesFrom", &STRINGS),
            f("ConsoleSize", &CONSOLE_SIZE),
            f("Annotations", &STRING_MAP).omitempty(),
            f("CapAdd", &STRSLICE),
            f("CapDrop", &STRSLICE),
            f("CgroupnsMode", &GoType::String("container.CgroupnsMode")),
            f("DNS", &STRINGS).json("Dns"),
            f("DNSOptions", &STRINGS).json("DnsOptions"),
            f("DNSSearch", &STRINGS).json("DnsSearch"),
            f("ExtraHosts", &STRINGS),
            f("GroupAdd", &STRINGS),
            f("IpcMode", &GoType::String("container.IpcMode")),
            f("Cgroup", &GoType::String("container.CgroupSpec")),
            f("Links", &STRINGS),
            f("OomScoreAdj", &INT),
            f("PidMode", &GoType::String("container.PidMode")),
            f("Privileged", &BOOL),
            f("PublishAllPorts", &BOOL),
            f("ReadonlyRootfs", &BOOL),
            f("SecurityOpt", &STRINGS),
            f("StorageOpt", &STRING_MAP).omitempty(),
            f("Tmpfs", &STRING_MAP).omitempty(),
            f("UTSMode", &GoType::String("container.UTSMode")),
            f("UsernsMode", &GoType::String("container.UsernsMode")),
            f("ShmSize", &INT64),
            f("Sysctls", &STRING_MAP).omitempty(),
            f("Runtime", &STRING).omitempty(),
            f("Isolation", &GoType::String("container.Isolation")),
            Field::embedded("Resources", &RESOURCES),
            f("Mounts", &MOUNTS).omitempty(),
            f("MaskedPaths", &STRINGS),
            f("ReadonlyPaths", &STRINGS),
            f("Init", &BOOL_PTR).omitempty(),
        ],
    );
    static HOST_CONFIG: GoType = GoType::Struct(&HOST_CONFIG_T);
    static HOST_CONFIG_PTR: GoType = GoType::Ptr(&HOST_CONFIG);
    static DRIVER_DATA_T: StructType = StructType::new(
        "storage.DriverData",
        &[f("Data", &STRING_MAP), f("Name", &STRING)],
    );
    static DRIVER_DATA: GoType = GoType::Struct(&DRIVER_DATA_T);

    static MOUNT_POINT_T: StructType = StructType::new(
        "container.MountPoint",
        &[
            f("Type", &MOUNT_TYPE).omitempty(),
            f("Name", &STRING).omitempty(),
            f("Source", &STRING),
            f("Destination", &STRING),
            f("Driver", &STRING).omitempty(),
            f("Mode", &STRING),
            f("RW", &BOOL),
            f("Propagation", &PROPAGATION),
        ],
    );
    static MOUNT_POINT: GoType = GoType::Struct(&MOUNT_POINT_T);
    static MOUNT_POINTS: GoType = GoType::Slice("", &MOUNT_POINT);

    static ADDRESS_T: StructType = StructType::new(
        "network.Address",
        &[f("Addr", &STRING), f("PrefixLen", &INT)],
    );
    static ADDRESS: GoType = GoType::Struct(&ADDRESS_T);
    static ADDRESSES: GoType = GoType::Slice("", &ADDRESS);
    static IPAM_CONFIG_T: StructType = StructType::new(
        "network.EndpointIPAMConfig",
        &[
            f("IPv4Address", &STRING).omitempty(),
            f("IPv6Address", &STRING).omitempty(),
            f("LinkLocalIPs", &STRINGS).omitempty(),
        ],
    );
    static IPAM_CONFIG: GoType = GoType::Struct(&IPAM_CONFIG_T);
    static IPAM_CONFIG_PTR: GoType = GoType::Ptr(&IPAM_CONFIG);
    static ENDPOINT_T: StructType = StructType::new(
        "network.EndpointSettings",
        &[
            f("IPAMConfig", &IPAM_CONFIG_PTR),
            f("Links", &STRINGS),
            f("Aliases", &STRINGS),
            f("MacAddress", &STRING),
            f("DriverOpts", &STRING_MAP),
            f("GwPriority", &INT),
            f("NetworkID", &STRING),
            f("EndpointID", &STRING),
            f("Gateway", &STRING),
            f("IPAddress", &STRING),
            f("IPPrefixLen", &INT),
            f("IPv6Gateway", &STRING),
            f("GlobalIPv6Address", &STRING),
            f("GlobalIPv6PrefixLen", &INT),
            f("DNSNames", &STRINGS),
        ],
    );
    static ENDPOINT: GoType = GoType::Struct(&ENDPOINT_T);
    static ENDPOINT_PTR: GoType = GoType::Ptr(&ENDPOINT);
    static ENDPOINTS: GoType = GoType::Map("", &STRING, &ENDPOINT_PTR);
    static NETWORK_BASE_T: StructType = StructType::new(
        "container.NetworkSettingsBase",
        &[
            f("Bridge", &STRING),
            f("SandboxID", &STRING),
            f("SandboxKey", &STRING),
            f("Ports", &PORT_MAP),
            f("HairpinMode", &BOOL),
            f("LinkLocalIPv6Address", &STRING),
            f("LinkLocalIPv6PrefixLen", &INT),
            f("SecondaryIPAddresses", &ADDRESSES),
            f("SecondaryIPv6Addresses", &ADDRESSES),
        ],
    );
    static NETWORK_BASE: GoType = GoType::Struct(&NETWORK_BASE_T);
    static NETWORK_DEFAULT_T: StructType = StructType::new(
        "container.DefaultNetworkSettings",
        &[
            f("EndpointID", &STRING),
            f("Gateway", &STRING),
            f("GlobalIPv6Address", &STRING),
            f("GlobalIPv6PrefixLen", &INT),
            f("IPAddress", &STRING),
            f("IPPrefixLen", &INT),
            f("IPv6Gateway", &STRING),
            f("MacAddress", &STRING),
        ],
    );
    static NETWORK_DEFAULT: GoType = GoType::Struct(&NETWORK_DEFAULT_T);
    static NETWORK_SETTINGS_T: StructType = StructType::new(
        "container.NetworkSettings",
        &[
            Field::embedded("NetworkSettingsBase", &NETWORK_BASE),
            Field::embedded("DefaultNetworkSettings", &NETWORK_DEFAULT),
            f("Networks", &ENDPOINTS),
        ],
    );
    static NETWORK_SETTINGS: GoType = GoType::Struct(&NETWORK_SETTINGS_T);
    static NETWORK_SETTINGS_PTR: GoType = GoType::Ptr(&NETWORK_SETTINGS);
    static INT64_PTR_OMIT: GoType = GoType::Ptr(&INT64);
    static DESCRIPTOR: GoType = GoType::Opaque("v1.Descriptor");
    static DESCRIPTOR_PTR: GoType = GoType::Ptr(&DESCRIPTOR);

    static BASE_T: StructType = StructType::new(
        "container.ContainerJSONBase",
        &[
            f("ID", &STRING).json("Id"),
            f("Created", &STRING),
            f("Path", &STRING),
            f("Args", &STRINGS),
            f("State", &STATE_PTR),
            f("Image", &STRING),
            f("ResolvConfPath", &STRING),
            f("HostnamePath", &STRING),
            f("HostsPath", &STRING),
            f("LogPath", &STRING),
            f("Name", &STRING),
            f("RestartCount", &INT),
            f("Driver", &STRING),
            f("Platform", &STRING),
            f("MountLabel", &STRING),
            f("ProcessLabel", &STRING),
            f("AppArmorProfile", &STRING),
            f("ExecIDs", &STRINGS),
            f("HostConfig", &HOST_CONFIG_PTR),
            f("GraphDriver", &DRIVER_DATA),
            f("SizeRw", &INT64_PTR_OMIT).omitempty(),
            f("SizeRootFs", &INT64_PTR_OMIT).omitempty(),
        ],
    );
    static BASE: GoType = GoType::Struct(&BASE_T);
    static BASE_PTR: GoType = GoType::Ptr(&BASE);
    static CONTAINER_T: StructType = StructType::new(
        "container.InspectResponse",
        &[
            Field::embedded("ContainerJSONBase", &BASE_PTR),
            f("Mounts", &MOUNT_POINTS),
            f("Config", &CONFIG_PTR),
            f("NetworkSettings", &NETWORK_SETTINGS_PTR),
            f("ImageManifestDescriptor", &DESCRIPTOR_PTR).omitempty(),
        ],
    );

    /// `docker container inspect`'s `container.InspectResponse`.
    pub static CONTAINER: GoType = GoType::Struct(&CONTAINER_T);

    fn go_json(v: &serde_json::Value) -> String {
        let mut out = String::new();
        super::json_raw(&mut out, v, true);
        out
    }
    /// containerd's `platforms.FormatAll`: `linux/arm64/v8`, `windows(10.0.20348)/amd64`.
    fn platform_string(v: &serde_json::Value) -> String {
        let s = |k: &str| v.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
        if s("os").is_empty() {
            return "unknown".to_string();
        }
        let mut os = s("os").to_string();
        if !s("os.version").is_empty() {
            os = format!("{os}({})", s("os.version"));
        }
        [os.as_str(), s("architecture"), s("variant")]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/")
    }
    static PLATFORM_T: StructType = StructType {
        name: "formatter.Platform",
        fields: &[
            f("Architecture", &STRING).json("architecture"),
            f("OS", &STRING).json("os"),
            f("OSVersion", &STRING).json("os.version").omitempty(),
            f("OSFeatures", &STRINGS).json("os.features").omitempty(),
            f("Variant", &STRING).json("variant").omitempty(),
        ],
        stringer: Some(platform_string),
        marshal: None,
    };
    static PLATFORM: GoType = GoType::Struct(&PLATFORM_T);
    static PLATFORM_PTR: GoType = GoType::Ptr(&PLATFORM);
    static PS_CONTEXT_T: StructType = StructType {
        name: "formatter.ContainerContext",
        fields: &[
            m("ID", &STRING),
            m("Names", &STRING),
            m("Image", &STRING),
            m("Command", &STRING),
            m("CreatedAt", &STRING),
            m("RunningFor", &STRING),
            m("Ports", &STRING),
            m("State", &STRING),
            m("Status", &STRING),
            m("Size", &STRING),
            m("Labels", &STRING),
            m("Mounts", &STRING),
            m("LocalVolumes", &STRING),
            m("Networks", &STRING),
            m("Platform", &PLATFORM_PTR),
        ],
        stringer: None,
        marshal: Some(go_json),
    };
    static PS_CONTEXT_S: GoType = GoType::Struct(&PS_CONTEXT_T);

    /// `docker ps`'s `*formatter.ContainerContext`: the data is an object of its columns
    /// (strings: `ID`, `Names`, `Image`, ..., and `Platform`, an object or `null`), which
    /// are Go methods; `{{json .}}` marshals
    /// the object as `json.Marshal` does (sorted keys, `<>&` escaped); `Label` is a method
    /// with an argument, which the caller registers with [`super::Options::method`].
    pub static PS_CONTAINER: GoType = GoType::Ptr(&PS_CONTEXT_S);
}

// ---------------------------------------------------------------------------------------
// Lexer (text/template/parse/lex.go)
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum It {
    Error,
    Bool,
    Char,
    CharConstant,
    Comment,
    Complex,
    Assign,
    Declare,
    Eof,
    Field,
    Identifier,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    Space,
    String,
    Text,
    Variable,
    // keywords
    Block,
    Break,
    Continue,
    Dot,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

impl It {
    fn is_keyword(self) -> bool {
        matches!(
            self,
            It::Block
                | It::Break
                | It::Continue
                | It::Dot
                | It::Define
                | It::Else
                | It::End
                | It::If
                | It::Nil
                | It::Range
                | It::Template
                | It::With
        )
    }
}

fn keyword(word: &str) -> Option<It> {
    Some(match word {
        "." => It::Dot,
        "block" => It::Block,
        "break" => It::Break,
        "continue" => It::Continue,
        "define" => It::Define,
        "else" => It::Else,
        "end" => It::End,
        "if" => It::If,
        "range" => It::Range,
        "nil" => It::Nil,
        "template" => It::Template,
        "with" => It::With,
        _ => return None,
    })
}

#[derive(Debug, Clone)]
struct Item {
    typ: It,
    pos: usize,
    val: String,
    line: usize,
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.typ {
            It::Eof => f.write_str("EOF"),
            It::Error => f.write_str(&self.val),
            t if t.is_keyword() => write!(f, "<{}>", self.val),
            _ if self.val.chars().count() > 10 => {
                let head: String = self.val.chars().take(10).collect();
                write!(f, "{}...", go_quote(&head))
            }
            _ => f.write_str(&go_quote(&self.val)),
        }
    }
}

#[derive(Clone, Copy)]
enum Lx {
    Text,
    LeftDelim,
    Comment,
    RightDelim,
    InsideAction,
    Space,
    Identifier,
    Field,
    Variable,
    Char,
    Number,
    Quote,
    RawQuote,
}

const EOF: Option<char> = None;

struct Lexer<'s> {
    input: &'s str,
    pos: usize,
    start: usize,
    at_eof: bool,
    paren_depth: i32,
    line: usize,
    start_line: usize,
    inside_action: bool,
    item: Option<Item>,
    dead: bool,
}

fn is_space(r: Option<char>) -> bool {
    matches!(r, Some(' ' | '\t' | '\r' | '\n'))
}

fn is_alnum(r: Option<char>) -> bool {
    match r {
        Some(c) => c == '_' || c.is_alphabetic() || c.is_numeric(),
        None => false,
    }
}

fn has_left_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == b'-' && is_space(Some(b[1] as char))
}

fn has_right_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && is_space(Some(b[0] as char)) && b[1] == b'-'
}

const SPACE_CHARS: &[char] = &[' ', '\t', '\r', '\n'];

impl<'s> Lexer<'s> {
    fn new(input: &'s str) -> Lexer<'s> {
        Lexer {
            input,
            pos: 0,
            start: 0,
            at_eof: false,
            paren_depth: 0,
            line: 1,
            start_line: 1,
            inside_action: false,
            item: None,
            dead: false,
        }
    }

    /// Every item up to and including EOF (or an error, then EOF).
    fn run(mut self) -> Vec<Item> {
        let mut items = Vec::new();
        loop {
            let item = self.next_item();
            let t = item.typ;
            items.push(item);
            if t == It::Error {
                items.push(Item {
                    typ: It::Eof,
                    pos: self.input.len(),
                    val: "EOF".into(),
                    line: self.start_line,
                });
                return items;
            }
            if t == It::Eof {
                return items;
            }
        }
    }

    fn next(&mut self) -> Option<char> {
        if self.pos >= self.input.len() {
            self.at_eof = true;
            return EOF;
        }
        let c = self.input[self.pos..].chars().next()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn peek(&mut self) -> Option<char> {
        let r = self.next();
        self.backup();
        r
    }

    fn backup(&mut self) {
        if !self.at_eof
            && self.pos > 0
            && let Some(c) = self.input[..self.pos].chars().next_back()
        {
            self.pos -= c.len_utf8();
            if c == '\n' {
                self.line -= 1;
            }
        }
    }

    fn this_item(&mut self, t: It) -> Item {
        let i = Item {
            typ: t,
            pos: self.start,
            val: self.input[self.start..self.pos].to_string(),
            line: self.start_line,
        };
        self.start = self.pos;
        self.start_line = self.line;
        i
    }

    fn emit(&mut self, t: It) -> Option<Lx> {
        let i = self.this_item(t);
        self.item = Some(i);
        None
    }

    fn emit_item(&mut self, i: Item) -> Option<Lx> {
        self.item = Some(i);
        None
    }

    fn ignore(&mut self) {
        self.line += self.input[self.start..self.pos].matches('\n').count();
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn accept(&mut self, valid: &str) -> bool {
        if let Some(c) = self.next()
            && valid.contains(c)
        {
            return true;
        }
        self.backup();
        false
    }

    fn accept_run(&mut self, valid: &str) {
        while let Some(c) = self.next() {
            if !valid.contains(c) {
                break;
            }
        }
        self.backup();
    }

    fn errorf(&mut self, msg: String) -> Option<Lx> {
        self.item = Some(Item {
            typ: It::Error,
            pos: self.start,
            val: msg,
            line: self.start_line,
        });
        self.dead = true;
        None
    }

    fn next_item(&mut self) -> Item {
        if self.dead {
            return Item {
                typ: It::Eof,
                pos: self.input.len(),
                val: "EOF".into(),
                line: self.start_line,
            };
        }
        self.item = None;
        let mut state = if self.inside_action {
            Lx::InsideAction
        } else {
            Lx::Text
        };
        loop {
            match self.step(state) {
                Some(next) => state = next,
                None => {
                    return self.item.take().unwrap_or(Item {
                        typ: It::Eof,
                        pos: self.pos,
                        val: "EOF".into(),
                        line: self.start_line,
                    });
                }
            }
        }
    }

    fn step(&mut self, state: Lx) -> Option<Lx> {
        match state {
            Lx::Text => self.lex_text(),
            Lx::LeftDelim => self.lex_left_delim(),
            Lx::Comment => self.lex_comment(),
            Lx::RightDelim => self.lex_right_delim(),
            Lx::InsideAction => self.lex_inside_action(),
            Lx::Space => self.lex_space(),
            Lx::Identifier => self.lex_identifier(),
            Lx::Field => self.lex_field_or_variable(It::Field),
            Lx::Variable => {
                if self.at_terminator() {
                    self.emit(It::Variable)
                } else {
                    self.lex_field_or_variable(It::Variable)
                }
            }
            Lx::Char => self.lex_char(),
            Lx::Number => self.lex_number(),
            Lx::Quote => self.lex_quote(),
            Lx::RawQuote => self.lex_raw_quote(),
        }
    }

    fn lex_text(&mut self) -> Option<Lx> {
        if let Some(x) = self.input[self.pos..].find("{{") {
            if x > 0 {
                self.pos += x;
                let mut trim = 0;
                let delim_end = self.pos + 2;
                if has_left_trim_marker(&self.input[delim_end..]) {
                    let text = &self.input[self.start..self.pos];
                    trim = text.len() - text.trim_end_matches(SPACE_CHARS).len();
                }
                self.pos -= trim;
                self.line += self.input[self.start..self.pos].matches('\n').count();
                let i = self.this_item(It::Text);
                self.pos += trim;
                self.ignore();
                if !i.val.is_empty() {
                    return self.emit_item(i);
                }
            }
            return Some(Lx::LeftDelim);
        }
        self.pos = self.input.len();
        if self.pos > self.start {
            self.line += self.input[self.start..self.pos].matches('\n').count();
            return self.emit(It::Text);
        }
        self.emit(It::Eof)
    }

    fn at_right_delim(&self) -> (bool, bool) {
        let rest = &self.input[self.pos..];
        if has_right_trim_marker(rest) && rest[2..].starts_with("}}") {
            return (true, true);
        }
        (rest.starts_with("}}"), false)
    }

    fn left_trim_length(s: &str) -> usize {
        s.len() - s.trim_start_matches(SPACE_CHARS).len()
    }

    fn lex_left_delim(&mut self) -> Option<Lx> {
        self.pos += 2;
        let trim = has_left_trim_marker(&self.input[self.pos..]);
        let after = if trim { 2 } else { 0 };
        if self.input[self.pos + after..].starts_with("/*") {
            self.pos += after;
            self.ignore();
            return Some(Lx::Comment);
        }
        let i = self.this_item(It::LeftDelim);
        self.inside_action = true;
        self.pos += after;
        self.ignore();
        self.paren_depth = 0;
        self.emit_item(i)
    }

    fn lex_comment(&mut self) -> Option<Lx> {
        self.pos += 2;
        let Some(x) = self.input[self.pos..].find("*/") else {
            return self.errorf("unclosed comment".into());
        };
        self.pos += x + 2;
        let (delim, trim) = self.at_right_delim();
        if !delim {
            return self.errorf("comment ends before closing delimiter".into());
        }
        self.line += self.input[self.start..self.pos].matches('\n').count();
        let _comment = self.this_item(It::Comment);
        if trim {
            self.pos += 2;
        }
        self.pos += 2;
        if trim {
            self.pos += Self::left_trim_length(&self.input[self.pos..]);
        }
        self.ignore();
        Some(Lx::Text)
    }

    fn lex_right_delim(&mut self) -> Option<Lx> {
        let (_, trim) = self.at_right_delim();
        if trim {
            self.pos += 2;
            self.ignore();
        }
        self.pos += 2;
        let i = self.this_item(It::RightDelim);
        if trim {
            self.pos += Self::left_trim_length(&self.input[self.pos..]);
            self.ignore();
        }
        self.inside_action = false;
        self.emit_item(i)
    }

    fn lex_inside_action(&mut self) -> Option<Lx> {
        let (delim, _) = self.at_right_delim();
        if delim {
            if self.paren_depth == 0 {
                return Some(Lx::RightDelim);
            }
            return self.errorf("unclosed left paren".into());
        }
        let r = self.next();
        match r {
            None => self.errorf("unclosed action".into()),
            Some(' ' | '\t' | '\r' | '\n') => {
                self.backup();
                Some(Lx::Space)
            }
            Some('=') => self.emit(It::Assign),
            Some(':') => {
                if self.next() != Some('=') {
                    return self.errorf("expected :=".into());
                }
                self.emit(It::Declare)
            }
            Some('|') => self.emit(It::Pipe),
            Some('"') => Some(Lx::Quote),
            Some('`') => Some(Lx::RawQuote),
            Some('$') => Some(Lx::Variable),
            Some('\'') => Some(Lx::Char),
            Some('.') => {
                if let Some(&b) = self.input.as_bytes().get(self.pos)
                    && !b.is_ascii_digit()
                {
                    return Some(Lx::Field);
                }
                self.backup();
                Some(Lx::Number)
            }
            Some('+' | '-' | '0'..='9') => {
                self.backup();
                Some(Lx::Number)
            }
            c if is_alnum(c) => {
                self.backup();
                Some(Lx::Identifier)
            }
            Some('(') => {
                self.paren_depth += 1;
                self.emit(It::LeftParen)
            }
            Some(')') => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.errorf("unexpected right paren".into());
                }
                self.emit(It::RightParen)
            }
            Some(c) if c.is_ascii() && !c.is_ascii_control() => self.emit(It::Char),
            Some(c) => self.errorf(format!(
                "unrecognized character in action: {}",
                unicode_sharp(c)
            )),
        }
    }

    fn lex_space(&mut self) -> Option<Lx> {
        let mut n = 0;
        while is_space(self.peek()) {
            self.next();
            n += 1;
        }
        let rest = &self.input[self.pos.saturating_sub(1)..];
        if self.pos > 0 && has_right_trim_marker(rest) && rest[2..].starts_with("}}") {
            self.backup();
            if n == 1 {
                return Some(Lx::RightDelim);
            }
        }
        self.emit(It::Space)
    }

    fn lex_identifier(&mut self) -> Option<Lx> {
        loop {
            let r = self.next();
            if is_alnum(r) {
                continue;
            }
            self.backup();
            let word = &self.input[self.start..self.pos];
            if !self.at_terminator() {
                return self.errorf(format!("bad character {}", unicode_sharp_opt(r)));
            }
            if let Some(k) = keyword(word)
                && k != It::Dot
            {
                return self.emit(k);
            }
            if word == "true" || word == "false" {
                return self.emit(It::Bool);
            }
            return self.emit(It::Identifier);
        }
    }

    fn lex_field_or_variable(&mut self, typ: It) -> Option<Lx> {
        if self.at_terminator() {
            return self.emit(if typ == It::Variable {
                It::Variable
            } else {
                It::Dot
            });
        }
        let mut r;
        loop {
            r = self.next();
            if !is_alnum(r) {
                self.backup();
                break;
            }
        }
        if !self.at_terminator() {
            return self.errorf(format!("bad character {}", unicode_sharp_opt(r)));
        }
        self.emit(typ)
    }

    fn at_terminator(&mut self) -> bool {
        let r = self.peek();
        if is_space(r) {
            return true;
        }
        match r {
            None | Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            _ => self.input[self.pos..].starts_with("}}"),
        }
    }

    fn lex_char(&mut self) -> Option<Lx> {
        self.lex_escaped('\'', "unterminated character constant", It::CharConstant)
    }

    /// A character constant or a quoted string: backslash escapes, ended by `close`,
    /// never by a newline.
    fn lex_escaped(&mut self, close: char, unterminated: &str, item: It) -> Option<Lx> {
        loop {
            match self.next() {
                Some('\\') => {
                    let r = self.next();
                    if r.is_some() && r != Some('\n') {
                        continue;
                    }
                    return self.errorf(unterminated.into());
                }
                None | Some('\n') => return self.errorf(unterminated.into()),
                Some(c) if c == close => break,
                _ => {}
            }
        }
        self.emit(item)
    }

    fn lex_number(&mut self) -> Option<Lx> {
        if !self.scan_number() {
            let t = self.input[self.start..self.pos].to_string();
            return self.errorf(format!("bad number syntax: {}", go_quote(&t)));
        }
        if let Some('+' | '-') = self.peek() {
            if !self.scan_number() || !self.input[..self.pos].ends_with('i') {
                let t = self.input[self.start..self.pos].to_string();
                return self.errorf(format!("bad number syntax: {}", go_quote(&t)));
            }
            return self.emit(It::Complex);
        }
        self.emit(It::Number)
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if is_alnum(self.peek()) {
            self.next();
            return false;
        }
        true
    }

    fn lex_quote(&mut self) -> Option<Lx> {
        self.lex_escaped('"', "unterminated quoted string", It::String)
    }

    fn lex_raw_quote(&mut self) -> Option<Lx> {
        loop {
            match self.next() {
                None => return self.errorf("unterminated raw quoted string".into()),
                Some('`') => break,
                _ => {}
            }
        }
        self.emit(It::RawString)
    }
}

/// Go's `%#U`: `U+0041 'A'` (the character only when printable).
fn unicode_sharp(c: char) -> String {
    if is_print(c) {
        format!("U+{:04X} '{c}'", c as u32)
    } else {
        format!("U+{:04X}", c as u32)
    }
}

fn unicode_sharp_opt(c: Option<char>) -> String {
    match c {
        Some(c) => unicode_sharp(c),
        // Go formats the eof rune (-1) like this
        None => "U+FFFFFFFFFFFFFFFF".into(),
    }
}

// ---------------------------------------------------------------------------------------
// Parse tree (text/template/parse/node.go)
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
struct List {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
struct Branch {
    pos: usize,
    pipe: Pipe,
    list: List,
    else_list: Option<List>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action {
        pos: usize,
        pipe: Pipe,
    },
    Comment,
    If(Box<Branch>),
    Range(Box<Branch>),
    With(Box<Branch>),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break {
        pos: usize,
    },
    Continue {
        pos: usize,
    },
    // only while parsing
    End {
        pos: usize,
    },
    Else {
        pos: usize,
    },
}

#[derive(Debug, Clone)]
struct Pipe {
    pos: usize,
    is_assign: bool,
    decl: Vec<String>,
    cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
struct Cmd {
    pos: usize,
    args: Vec<Operand>,
}

#[derive(Debug, Clone)]
struct Num {
    text: String,
    is_int: bool,
    is_uint: bool,
    is_float: bool,
    int: i64,
    float: f64,
}

#[derive(Debug, Clone)]
enum Operand {
    Field {
        pos: usize,
        ident: Vec<String>,
    },
    Variable {
        pos: usize,
        ident: Vec<String>,
    },
    Chain {
        pos: usize,
        node: Box<Operand>,
        field: Vec<String>,
    },
    Identifier {
        pos: usize,
        name: String,
    },
    Dot {
        pos: usize,
    },
    Nil {
        pos: usize,
    },
    Bool {
        pos: usize,
        val: bool,
    },
    Number {
        pos: usize,
        num: Num,
    },
    String {
        pos: usize,
        quoted: String,
        text: String,
    },
    Pipe(Box<Pipe>),
}

impl Operand {
    fn pos(&self) -> usize {
        match self {
            Operand::Field { pos, .. }
            | Operand::Variable { pos, .. }
            | Operand::Chain { pos, .. }
            | Operand::Identifier { pos, .. }
            | Operand::Dot { pos }
            | Operand::Nil { pos }
            | Operand::Bool { pos, .. }
            | Operand::Number { pos, .. }
            | Operand::String { pos, .. } => *pos,
            Operand::Pipe(p) => p.pos,
        }
    }

    /// A literal that cannot start a later pipeline stage (NodeBool, NodeDot...).
    fn is_literal(&self) -> bool {
        matches!(
            self,
            Operand::Bool { .. }
                | Operand::Dot { .. }
                | Operand::Nil { .. }
                | Operand::Number { .. }
                | Operand::String { .. }
        )
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Field { ident, .. } => {
                for i in ident {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Operand::Variable { ident, .. } => f.write_str(&ident.join(".")),
            Operand::Chain { node, field, .. } => {
                if let Operand::Pipe(p) = &**node {
                    write!(f, "({p})")?;
                } else {
                    write!(f, "{node}")?;
                }
                for i in field {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Operand::Identifier { name, .. } => f.write_str(name),
            Operand::Dot { .. } => f.write_str("."),
            Operand::Nil { .. } => f.write_str("nil"),
            Operand::Bool { val, .. } => write!(f, "{val}"),
            Operand::Number { num, .. } => f.write_str(&num.text),
            Operand::String { quoted, .. } => f.write_str(quoted),
            Operand::Pipe(p) => write!(f, "{p}"),
        }
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if let Operand::Pipe(p) = a {
                write!(f, "({p})")?;
            } else {
                write!(f, "{a}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for n in &self.nodes {
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let branch = |f: &mut fmt::Formatter<'_>, name: &str, b: &Branch| {
            write!(f, "{{{{{name} {}}}}}{}", b.pipe, b.list)?;
            if let Some(e) = &b.else_list {
                write!(f, "{{{{else}}}}{e}")?;
            }
            f.write_str("{{end}}")
        };
        match self {
            Node::Text(t) => f.write_str(t),
            Node::Action { pipe, .. } => write!(f, "{{{{{pipe}}}}}"),
            Node::Comment => f.write_str("{{/* */}}"),
            Node::If(b) => branch(f, "if", b),
            Node::Range(b) => branch(f, "range", b),
            Node::With(b) => branch(f, "with", b),
            Node::Template { name, pipe, .. } => match pipe {
                Some(p) => write!(f, "{{{{template {} {p}}}}}", go_quote(name)),
                None => write!(f, "{{{{template {}}}}}", go_quote(name)),
            },
            Node::Break { .. } => f.write_str("{{break}}"),
            Node::Continue { .. } => f.write_str("{{continue}}"),
            Node::End { .. } => f.write_str("{{end}}"),
            Node::Else { .. } => f.write_str("{{else}}"),
        }
    }
}

/// parse.IsEmptyTree: nothing but space and comments.
fn is_empty_tree(list: &List) -> bool {
    list.nodes.iter().all(|n| match n {
        Node::Text(t) => t.trim_matches(|c: char| c.is_whitespace()).is_empty(),
        Node::Comment => true,
        _ => false,
    })
}

// ---------------------------------------------------------------------------------------
// Parser (text/template/parse/parse.go)
// ---------------------------------------------------------------------------------------

/// The functions a template may call: Go's builtins and docker's.
const FUNCTIONS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
    "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne", "json", "split", "join", "title",
    "lower", "upper", "pad", "truncate",
];

/// How deep parentheses and control structures may nest (Go allows 10000 parentheses
/// and any nesting; this keeps the recursive parser and evaluator within a thread's
/// stack).
const MAX_STACK_DEPTH: usize = 100;

struct Parser {
    items: Vec<Item>,
    idx: usize,
    furthest: usize,
    vars: Vec<String>,
    trees: HashMap<String, List>,
    action_line: usize,
    range_depth: usize,
    stack_depth: usize,
}

type PResult<T> = Result<T, String>;

impl Parser {
    fn next(&mut self) -> Item {
        let i = self.idx.min(self.items.len() - 1);
        self.idx = i + 1;
        self.furthest = self.furthest.max(i);
        self.items[i].clone()
    }

    fn backup(&mut self) {
        self.idx = self.idx.saturating_sub(1);
    }

    fn peek(&mut self) -> Item {
        let t = self.next();
        self.backup();
        t
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let t = self.next();
            if t.typ != It::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let t = self.next_non_space();
        self.backup();
        t
    }

    fn errorf<T>(&self, msg: impl fmt::Display) -> PResult<T> {
        let line = self.items[self.furthest.min(self.items.len() - 1)].line;
        Err(format!("template: :{line}: {msg}"))
    }

    fn expect(&mut self, expected: It, context: &str) -> PResult<Item> {
        let t = self.next_non_space();
        if t.typ != expected {
            return self.unexpected(&t, context);
        }
        Ok(t)
    }

    fn unexpected<T>(&self, token: &Item, context: &str) -> PResult<T> {
        if token.typ == It::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != token.line {
                extra = format!(" in action started at :{}", self.action_line);
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.errorf(format!("{token}{extra}"));
        }
        self.errorf(format!("unexpected {token} in {context}"))
    }

    fn add(&mut self, name: String, list: List) -> PResult<()> {
        match self.trees.get(&name) {
            Some(old) if !is_empty_tree(old) => {
                if !is_empty_tree(&list) {
                    return self.errorf(format!(
                        "template: multiple definition of template {}",
                        go_quote(&name)
                    ));
                }
                Ok(())
            }
            _ => {
                self.trees.insert(name, list);
                Ok(())
            }
        }
    }

    fn parse(&mut self) -> PResult<()> {
        let mut root = List::default();
        while self.peek().typ != It::Eof {
            if self.peek().typ == It::LeftDelim {
                let mark = self.idx;
                self.next();
                if self.next_non_space().typ == It::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.idx = mark;
            }
            let n = self.text_or_action()?;
            match n {
                Node::End { .. } | Node::Else { .. } => {
                    return self.errorf(format!("unexpected {n}"));
                }
                n => root.nodes.push(n),
            }
        }
        self.add(String::new(), root)
    }

    /// A fresh tree for `define` or `block`: its own variables and range depth.
    fn in_new_tree<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        let vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let depth = std::mem::replace(&mut self.range_depth, 0);
        let r = f(self);
        self.vars = vars;
        self.range_depth = depth;
        r
    }

    fn parse_definition(&mut self) -> PResult<()> {
        const CONTEXT: &str = "define clause";
        self.in_new_tree(|p| {
            let tok = p.next_non_space();
            if tok.typ != It::String && tok.typ != It::RawString {
                return p.unexpected(&tok, CONTEXT);
            }
            let name = match go_unquote(&tok.val) {
                Ok(n) => n,
                Err(e) => return p.errorf(e),
            };
            p.expect(It::RightDelim, CONTEXT)?;
            let (list, end) = p.item_list()?;
            if !matches!(end, Node::End { .. }) {
                return p.errorf(format!("unexpected {end} in {CONTEXT}"));
            }
            p.add(name, list)
        })
    }

    fn item_list(&mut self) -> PResult<(List, Node)> {
        let mut list = List::default();
        while self.peek_non_space().typ != It::Eof {
            let n = self.text_or_action()?;
            match n {
                Node::End { .. } | Node::Else { .. } => return Ok((list, n)),
                n => list.nodes.push(n),
            }
        }
        self.errorf("unexpected EOF")
    }

    fn text_or_action(&mut self) -> PResult<Node> {
        let token = self.next_non_space();
        match token.typ {
            It::Text => Ok(Node::Text(token.val)),
            It::LeftDelim => {
                self.action_line = token.line;
                let r = self.action();
                self.action_line = 0;
                r
            }
            It::Comment => Ok(Node::Comment),
            _ => self.unexpected(&token, "input"),
        }
    }

    fn action(&mut self) -> PResult<Node> {
        let token = self.next_non_space();
        match token.typ {
            It::Block => return self.block_control(),
            It::Break => return self.break_control(token.pos, true),
            It::Continue => return self.break_control(token.pos, false),
            It::Else => return self.else_control(),
            It::End => {
                let t = self.expect(It::RightDelim, "end")?;
                return Ok(Node::End { pos: t.pos });
            }
            It::If => return Ok(Node::If(Box::new(self.parse_control("if")?))),
            It::Range => return Ok(Node::Range(Box::new(self.parse_control("range")?))),
            It::Template => return self.template_control(),
            It::With => return Ok(Node::With(Box::new(self.parse_control("with")?))),
            _ => {}
        }
        self.backup();
        let token = self.peek();
        let pipe = self.pipeline("command", It::RightDelim)?;
        Ok(Node::Action {
            pos: token.pos,
            pipe,
        })
    }

    fn break_control(&mut self, pos: usize, is_break: bool) -> PResult<Node> {
        let name = if is_break { "break" } else { "continue" };
        let token = self.next_non_space();
        if token.typ != It::RightDelim {
            return self.unexpected(&token, &format!("{{{{{name}}}}}"));
        }
        if self.range_depth == 0 {
            return self.errorf(format!("{{{{{name}}}}} outside {{{{range}}}}"));
        }
        Ok(if is_break {
            Node::Break { pos }
        } else {
            Node::Continue { pos }
        })
    }

    fn pipeline(&mut self, context: &str, end: It) -> PResult<Pipe> {
        let token = self.peek_non_space();
        let mut pipe = Pipe {
            pos: token.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        'decls: loop {
            let v = self.peek_non_space();
            if v.typ == It::Variable {
                let mark = self.idx;
                self.next();
                let after = self.peek();
                let next = self.peek_non_space();
                match next.typ {
                    It::Assign | It::Declare => {
                        pipe.is_assign = next.typ == It::Assign;
                        self.next_non_space();
                        pipe.decl.push(v.val.clone());
                        self.vars.push(v.val.clone());
                    }
                    It::Char if next.val == "," => {
                        self.next_non_space();
                        pipe.decl.push(v.val.clone());
                        self.vars.push(v.val.clone());
                        if context == "range" && pipe.decl.len() < 2 {
                            match self.peek_non_space().typ {
                                It::Variable | It::RightDelim | It::RightParen => continue 'decls,
                                _ => return self.errorf("range can only initialize variables"),
                            }
                        }
                        return self.errorf(format!("too many declarations in {context}"));
                    }
                    _ => {
                        let _ = after;
                        self.idx = mark;
                    }
                }
            }
            break;
        }
        loop {
            let token = self.next_non_space();
            if token.typ == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match token.typ {
                It::Bool
                | It::CharConstant
                | It::Complex
                | It::Dot
                | It::Field
                | It::Identifier
                | It::Number
                | It::Nil
                | It::RawString
                | It::String
                | It::Variable
                | It::LeftParen => {
                    self.backup();
                    let c = self.command()?;
                    pipe.cmds.push(c);
                }
                _ => return self.unexpected(&token, context),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return self.errorf(format!("missing value for {context}"));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if c.args[0].is_literal() {
                return self.errorf(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                ));
            }
        }
        Ok(())
    }

    fn parse_control(&mut self, context: &str) -> PResult<Branch> {
        if self.stack_depth >= MAX_STACK_DEPTH {
            return self.errorf("max expression depth exceeded");
        }
        self.stack_depth += 1;
        let nvars = self.vars.len();
        let r = self.parse_control_inner(context);
        self.vars.truncate(nvars);
        self.stack_depth -= 1;
        r
    }

    fn parse_control_inner(&mut self, context: &str) -> PResult<Branch> {
        let pipe = self.pipeline(context, It::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let r = self.item_list();
        if context == "range" {
            self.range_depth -= 1;
        }
        let (list, next) = r?;
        let mut else_list = None;
        if let Node::Else { .. } = next {
            if context == "if" && self.peek().typ == It::If {
                self.next();
                let b = self.parse_control("if")?;
                else_list = Some(List {
                    nodes: vec![Node::If(Box::new(b))],
                });
            } else if context == "with" && self.peek().typ == It::With {
                self.next();
                let b = self.parse_control("with")?;
                else_list = Some(List {
                    nodes: vec![Node::With(Box::new(b))],
                });
            } else {
                let (l, next) = self.item_list()?;
                if !matches!(next, Node::End { .. }) {
                    return self.errorf(format!("expected end; found {next}"));
                }
                else_list = Some(l);
            }
        }
        Ok(Branch {
            pos: pipe.pos,
            pipe,
            list,
            else_list,
        })
    }

    fn else_control(&mut self) -> PResult<Node> {
        let peek = self.peek_non_space();
        if peek.typ == It::If || peek.typ == It::With {
            return Ok(Node::Else { pos: peek.pos });
        }
        let t = self.expect(It::RightDelim, "else")?;
        Ok(Node::Else { pos: t.pos })
    }

    fn template_name(&mut self, token: &Item, context: &str) -> PResult<String> {
        match token.typ {
            It::String | It::RawString => match go_unquote(&token.val) {
                Ok(s) => Ok(s),
                Err(e) => self.errorf(e),
            },
            _ => self.unexpected(token, context),
        }
    }

    fn block_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "block clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, It::RightDelim)?;
        let list = self.in_new_tree(|p| {
            let (list, end) = p.item_list()?;
            if !matches!(end, Node::End { .. }) {
                return p.errorf(format!("unexpected {end} in {CONTEXT}"));
            }
            Ok(list)
        })?;
        self.add(name.clone(), list)?;
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn template_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "template clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, CONTEXT)?;
        let mut pipe = None;
        if self.next_non_space().typ != It::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(CONTEXT, It::RightDelim)?);
        }
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe,
        })
    }

    fn command(&mut self) -> PResult<Cmd> {
        let mut cmd = Cmd {
            pos: self.peek_non_space().pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let token = self.next();
            match token.typ {
                It::Space => continue,
                It::RightDelim | It::RightParen => self.backup(),
                It::Pipe => {}
                _ => return self.unexpected(&token, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            return self.errorf("empty command");
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Operand>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ != It::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().typ == It::Field {
            let f = self.next().val;
            fields.push(f[1..].to_string());
        }
        Ok(Some(match node {
            Operand::Field { mut ident, .. } => {
                ident.extend(fields);
                Operand::Field { pos, ident }
            }
            Operand::Variable { mut ident, .. } => {
                ident.extend(fields);
                Operand::Variable { pos, ident }
            }
            n if n.is_literal() => {
                return self.errorf(format!(
                    "unexpected . after term {}",
                    go_quote(&n.to_string())
                ));
            }
            n => Operand::Chain {
                pos,
                node: Box::new(n),
                field: fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Operand>> {
        let token = self.next_non_space();
        let pos = token.pos;
        Ok(Some(match token.typ {
            It::Identifier => {
                if !FUNCTIONS.contains(&token.val.as_str()) {
                    return self.errorf(format!("function {} not defined", go_quote(&token.val)));
                }
                Operand::Identifier {
                    pos,
                    name: token.val,
                }
            }
            It::Dot => Operand::Dot { pos },
            It::Nil => Operand::Nil { pos },
            It::Variable => {
                let ident: Vec<String> = token.val.split('.').map(str::to_string).collect();
                if !self.vars.contains(&ident[0]) {
                    return self.errorf(format!("undefined variable {}", go_quote(&ident[0])));
                }
                Operand::Variable { pos, ident }
            }
            It::Field => Operand::Field {
                pos,
                ident: token.val[1..].split('.').map(str::to_string).collect(),
            },
            It::Bool => Operand::Bool {
                pos,
                val: token.val == "true",
            },
            It::CharConstant | It::Complex | It::Number => {
                match new_number(&token.val, token.typ) {
                    Ok(num) => Operand::Number { pos, num },
                    Err(e) => return self.errorf(e),
                }
            }
            It::LeftParen => {
                if self.stack_depth >= MAX_STACK_DEPTH {
                    return self.errorf("max expression depth exceeded");
                }
                self.stack_depth += 1;
                let r = self.pipeline("parenthesized pipeline", It::RightParen);
                self.stack_depth -= 1;
                Operand::Pipe(Box::new(r?))
            }
            It::String | It::RawString => match go_unquote(&token.val) {
                Ok(text) => Operand::String {
                    pos,
                    quoted: token.val,
                    text,
                },
                Err(e) => return self.errorf(e),
            },
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

/// parse.newNumber: which of int, uint and float the literal can be.
fn new_number(text: &str, typ: It) -> Result<Num, String> {
    let mut n = Num {
        text: text.to_string(),
        is_int: false,
        is_uint: false,
        is_float: false,
        int: 0,
        float: 0.0,
    };
    if typ == It::CharConstant {
        let body = &text[1..];
        let (c, tail) = unquote_char(body, '\'').map_err(|_| "invalid syntax".to_string())?;
        if tail != "'" {
            return Err(format!("malformed character constant: {text}"));
        }
        let c = match c {
            Unq::Char(c) => c as i64,
            Unq::Byte(b) => b as i64,
        };
        n.int = c;
        n.is_int = true;
        n.is_uint = true;
        n.float = c as f64;
        n.is_float = true;
        return Ok(n);
    }
    if typ == It::Complex || text.ends_with('i') {
        return Err(format!("complex constant {text} is not supported"));
    }
    let u = parse_go_uint(text);
    if let Some(u) = u {
        n.is_uint = true;
        n.int = u as i64;
    }
    if let Some(i) = parse_go_int(text) {
        n.is_int = true;
        n.int = i;
    }
    if n.is_int {
        n.is_float = true;
        n.float = n.int as f64;
    } else if let Some(u) = u {
        n.is_float = true;
        n.float = u as f64;
    } else if let Some(f) = parse_go_float(text) {
        if !text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Err(format!("integer overflow: {}", go_quote(text)));
        }
        n.is_float = true;
        n.float = f;
        if (f as i64) as f64 == f && f.fract() == 0.0 && f.abs() < 9.2e18 {
            n.is_int = true;
            n.int = f as i64;
        }
        if f >= 0.0 && (f as u64) as f64 == f && f < 1.8e19 {
            n.is_uint = true;
        }
    }
    if !n.is_int && !n.is_uint && !n.is_float {
        return Err(format!("illegal number syntax: {}", go_quote(text)));
    }
    Ok(n)
}

/// strconv.ParseUint(text, 0, 64).
fn parse_go_uint(text: &str) -> Option<u64> {
    if text.starts_with(['+', '-']) {
        return None;
    }
    let (base, digits) = if let Some(r) = text.strip_prefix("0x").or(text.strip_prefix("0X")) {
        (16, r)
    } else if let Some(r) = text.strip_prefix("0o").or(text.strip_prefix("0O")) {
        (8, r)
    } else if let Some(r) = text.strip_prefix("0b").or(text.strip_prefix("0B")) {
        (2, r)
    } else if text.len() > 1 && text.starts_with('0') {
        (8, &text[1..])
    } else {
        (10, text)
    };
    // underscores separate digits (a base prefix counts as a digit)
    let prefixed = base != 10;
    if digits.contains('_')
        && (digits.ends_with('_')
            || digits.contains("__")
            || (!prefixed && digits.starts_with('_')))
    {
        return None;
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() {
        return None;
    }
    u64::from_str_radix(&clean, base).ok()
}

/// strconv.ParseInt(text, 0, 64).
fn parse_go_int(text: &str) -> Option<i64> {
    let (neg, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let u = parse_go_uint(rest)?;
    if neg {
        if u <= i64::MAX as u64 + 1 {
            Some((u as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(u).ok()
    }
}

/// strconv.ParseFloat(text, 64) for decimal literals.
fn parse_go_float(text: &str) -> Option<f64> {
    if text.contains(['x', 'X']) {
        return None;
    }
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() || clean.contains(['i', 'n', 'N', 'I']) {
        return None;
    }
    clean.parse::<f64>().ok().filter(|f| f.is_finite())
}

enum Unq {
    Char(char),
    Byte(u8),
}

/// strconv.UnquoteChar: the first character of `s` (escapes decoded) and the rest.
fn unquote_char(s: &str, quote: char) -> Result<(Unq, &str), ()> {
    let mut it = s.chars();
    let c = it.next().ok_or(())?;
    if c == quote && (quote == '\'' || quote == '"') {
        return Err(());
    }
    if c != '\\' {
        return Ok((Unq::Char(c), &s[c.len_utf8()..]));
    }
    let rest = &s[1..];
    let e = rest.chars().next().ok_or(())?;
    let after = &rest[e.len_utf8()..];
    let simple = |c: char| Ok((Unq::Char(c), after));
    match e {
        'a' => simple('\x07'),
        'b' => simple('\x08'),
        'f' => simple('\x0c'),
        'n' => simple('\n'),
        'r' => simple('\r'),
        't' => simple('\t'),
        'v' => simple('\x0b'),
        '\\' => simple('\\'),
        '\'' | '"' => {
            if e != quote {
                return Err(());
            }
            simple(e)
        }
        'x' | 'u' | 'U' => {
            let n = match e {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let hex = after.get(..n).ok_or(())?;
            let v = u32::from_str_radix(hex, 16).map_err(|_| ())?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(());
            }
            if e == 'x' {
                return Ok((Unq::Byte(v as u8), &after[n..]));
            }
            let c = char::from_u32(v).ok_or(())?;
            Ok((Unq::Char(c), &after[n..]))
        }
        '0'..='7' => {
            let oct = rest.get(..3).ok_or(())?;
            if !oct.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                return Err(());
            }
            let v = u32::from_str_radix(oct, 8).map_err(|_| ())?;
            if v > 255 {
                return Err(());
            }
            Ok((Unq::Byte(v as u8), &rest[3..]))
        }
        _ => Err(()),
    }
}

/// strconv.Unquote for "..." and `...` literals.
fn go_unquote(s: &str) -> Result<String, String> {
    let syntax = || "invalid syntax".to_string();
    if let Some(raw) = s.strip_prefix('`') {
        let body = raw.strip_suffix('`').ok_or_else(syntax)?;
        if body.contains('`') {
            return Err(syntax());
        }
        return Ok(body.replace('\r', ""));
    }
    let body = s
        .strip_prefix('"')
        .and_then(|b| b.strip_suffix('"'))
        .ok_or_else(syntax)?;
    if body.contains('\n') {
        return Err(syntax());
    }
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut rest = body;
    while !rest.is_empty() {
        let (c, tail) = unquote_char(rest, '"').map_err(|_| syntax())?;
        match c {
            Unq::Char(c) => {
                let mut b = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
            Unq::Byte(b) => out.push(b),
        }
        rest = tail;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

// ---------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------

/// The static Go type of a value.
#[derive(Debug, Clone, Copy)]
enum Ty {
    Go(&'static GoType),
    /// What an `interface{}` of decoded JSON holds: `map[string]interface {}`,
    /// `[]interface {}`, `string`, `json.Number`, `bool`.
    Raw,
    /// A value the engine made (literals, results of functions and methods): `int`,
    /// `float64`, `string`, `bool`, `[]interface {}`, `map[string]interface {}`.
    Dyn,
}

#[derive(Debug, Clone)]
enum Data<'d> {
    Ref(&'d Value),
    Own(Rc<Value>),
}

impl Deref for Data<'_> {
    type Target = Value;
    fn deref(&self) -> &Value {
        match self {
            Data::Ref(v) => v,
            Data::Own(v) => v,
        }
    }
}

impl<'d> Data<'d> {
    /// A part of this value (a field, an element), borrowed when this is borrowed.
    fn child(&self, f: impl for<'x> Fn(&'x Value) -> Option<&'x Value>) -> Option<Data<'d>> {
        match self {
            Data::Ref(v) => f(v).map(Data::Ref),
            Data::Own(v) => f(v).map(|c| Data::Own(Rc::new(c.clone()))),
        }
    }
}

/// A `reflect.Value`: invalid (no value), or data of a Go type.
#[derive(Debug, Clone)]
enum Val<'d> {
    Invalid,
    V(Data<'d>, Ty),
}

impl<'d> Val<'d> {
    fn own(v: Value, t: Ty) -> Val<'d> {
        Val::V(Data::Own(Rc::new(v)), t)
    }
    fn str(s: impl Into<String>) -> Val<'d> {
        Val::own(Value::String(s.into()), Ty::Dyn)
    }
    fn int(i: i64) -> Val<'d> {
        Val::own(Value::from(i), Ty::Dyn)
    }
    fn bool(b: bool) -> Val<'d> {
        Val::own(Value::Bool(b), Ty::Dyn)
    }
    fn kind(&self) -> Kind {
        match self {
            Val::Invalid => Kind::Invalid,
            Val::V(d, t) => kind_of(d, *t),
        }
    }
    fn type_name(&self) -> String {
        match self {
            Val::Invalid => "<nil>".into(),
            Val::V(d, t) => type_name(d, *t),
        }
    }
    /// Nil pointer, interface, map or slice (or no value).
    fn is_nil(&self) -> bool {
        match self {
            Val::Invalid => true,
            Val::V(d, _) => {
                matches!(
                    self.kind(),
                    Kind::Ptr | Kind::Interface | Kind::Map | Kind::Slice
                ) && d.is_null()
            }
        }
    }
    fn to_json(&self) -> Value {
        match self {
            Val::Invalid => Value::Null,
            Val::V(d, _) => (**d).clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    String,
    Slice,
    Array,
    Map,
    Struct,
    Ptr,
    Interface,
}

fn kind_of(v: &Value, t: Ty) -> Kind {
    match t {
        Ty::Go(g) => match g {
            GoType::Interface | GoType::Opaque(_) => Kind::Interface,
            GoType::Bool(_) => Kind::Bool,
            GoType::Int(_) | GoType::Duration => Kind::Int,
            GoType::Uint(_) => Kind::Uint,
            GoType::Float(_) => Kind::Float,
            GoType::String(_) => Kind::String,
            GoType::Time | GoType::Struct(_) => Kind::Struct,
            GoType::Slice(..) => Kind::Slice,
            GoType::Array(..) => Kind::Array,
            GoType::Map(..) => Kind::Map,
            GoType::Ptr(_) => Kind::Ptr,
        },
        Ty::Raw => match v {
            Value::Null => Kind::Invalid,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) | Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Slice,
            Value::Object(_) => Kind::Map,
        },
        Ty::Dyn => match v {
            Value::Null => Kind::Invalid,
            Value::Bool(_) => Kind::Bool,
            Value::Number(n) if n.is_i64() => Kind::Int,
            Value::Number(n) if n.is_u64() => Kind::Uint,
            Value::Number(_) => Kind::Float,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Slice,
            Value::Object(_) => Kind::Map,
        },
    }
}

fn go_type_name(g: &GoType) -> String {
    match g {
        GoType::Interface => "interface {}".into(),
        GoType::Opaque(n)
        | GoType::Bool(n)
        | GoType::Int(n)
        | GoType::Uint(n)
        | GoType::Float(n)
        | GoType::String(n) => n.to_string(),
        GoType::Time => "time.Time".into(),
        GoType::Duration => "time.Duration".into(),
        GoType::Slice(n, e) => {
            if n.is_empty() {
                format!("[]{}", go_type_name(e))
            } else {
                n.to_string()
            }
        }
        GoType::Array(n, len, e) => {
            if n.is_empty() {
                format!("[{len}]{}", go_type_name(e))
            } else {
                n.to_string()
            }
        }
        GoType::Map(n, k, e) => {
            if n.is_empty() {
                format!("map[{}]{}", go_type_name(k), go_type_name(e))
            } else {
                n.to_string()
            }
        }
        GoType::Ptr(e) => format!("*{}", go_type_name(e)),
        GoType::Struct(s) => s.name.to_string(),
    }
}

fn type_name(v: &Value, t: Ty) -> String {
    match t {
        Ty::Go(g) => go_type_name(g),
        Ty::Raw => match v {
            Value::Null => "interface {}",
            Value::Bool(_) => "bool",
            Value::Number(_) => "json.Number",
            Value::String(_) => "string",
            Value::Array(_) => "[]interface {}",
            Value::Object(_) => "map[string]interface {}",
        }
        .into(),
        Ty::Dyn => match v {
            Value::Null => "interface {}",
            Value::Bool(_) => "bool",
            Value::Number(n) if n.is_i64() => "int",
            Value::Number(n) if n.is_u64() => "uint",
            Value::Number(_) => "float64",
            Value::String(_) => "string",
            Value::Array(_) => "[]interface {}",
            Value::Object(_) => "map[string]interface {}",
        }
        .into(),
    }
}

/// The JSON of a Go type's zero value.
fn zero(g: &GoType) -> Value {
    match g {
        GoType::Bool(_) => Value::Bool(false),
        GoType::Int(_) | GoType::Uint(_) | GoType::Duration => Value::from(0),
        GoType::Float(_) => Value::from(0.0),
        GoType::String(_) => Value::String(String::new()),
        GoType::Time => Value::String("0001-01-01T00:00:00Z".into()),
        GoType::Array(_, n, e) => Value::Array((0..*n).map(|_| zero(e)).collect()),
        GoType::Struct(_) => Value::Object(Map::new()),
        GoType::Interface
        | GoType::Opaque(_)
        | GoType::Slice(..)
        | GoType::Map(..)
        | GoType::Ptr(_) => Value::Null,
    }
}

fn struct_of(g: &'static GoType) -> Option<&'static StructType> {
    match g {
        GoType::Struct(s) => Some(s),
        GoType::Ptr(GoType::Struct(s)) => Some(s),
        _ => None,
    }
}

/// reflect's FieldByName: the shallowest field of that name, through embedded structs.
fn find_field(st: &'static StructType, name: &str) -> Option<&'static Field> {
    let mut level = vec![st];
    while !level.is_empty() {
        let mut found = None;
        let mut count = 0;
        let mut next = Vec::new();
        for s in &level {
            for f in s.fields {
                if f.name == name {
                    found = Some(f);
                    count += 1;
                }
                if f.embedded
                    && let Some(es) = struct_of(f.ty)
                {
                    next.push(es);
                }
            }
        }
        match count {
            1 => return found,
            0 => level = next,
            _ => return None,
        }
    }
    None
}

/// The value of a struct field (embedded structs share the parent's JSON object).
fn field_value<'d>(data: &Data<'d>, f: &'static Field) -> Val<'d> {
    if f.embedded {
        return Val::V(data.clone(), Ty::Go(f.ty));
    }
    match data.child(|v| v.get(f.json)) {
        Some(c) if !c.is_null() || nullable(f.ty) => Val::V(c, Ty::Go(f.ty)),
        _ => Val::own(zero(f.ty), Ty::Go(f.ty)),
    }
}

fn nullable(g: &GoType) -> bool {
    matches!(
        g,
        GoType::Interface
            | GoType::Opaque(_)
            | GoType::Slice(..)
            | GoType::Map(..)
            | GoType::Ptr(_)
    )
}

/// The text of a string-kinded value (a string, a `json.Number`).
fn str_of(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        // a json.Number holds the text Go wrote: integers as such, floats as encoding/json
        Value::Number(n) if n.is_f64() => Cow::Owned(json_float(n.as_f64().unwrap_or(0.0))),
        Value::Number(n) => Cow::Owned(n.to_string()),
        Value::Bool(b) => Cow::Owned(b.to_string()),
        _ => Cow::Borrowed(""),
    }
}

fn as_i64(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_u64().map(|u| u as i64))
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or(0),
        _ => 0,
    }
}

fn as_u64(v: &Value) -> u64 {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_i64().map(|i| i as u64))
            .or_else(|| n.as_f64().map(|f| f as u64))
            .unwrap_or(0),
        _ => 0,
    }
}

fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// The element type of a slice, array or map value.
fn elem_ty(t: Ty) -> Ty {
    match t {
        Ty::Go(GoType::Slice(_, e) | GoType::Array(_, _, e) | GoType::Map(_, _, e)) => Ty::Go(e),
        Ty::Raw => Ty::Go(&INTERFACE),
        _ => Ty::Dyn,
    }
}

fn key_ty(t: Ty) -> Ty {
    match t {
        Ty::Go(GoType::Map(_, k, _)) => Ty::Go(k),
        _ => Ty::Go(&STRING),
    }
}

fn key_type_name(t: Ty) -> String {
    match t {
        Ty::Go(GoType::Map(_, k, _)) => go_type_name(k),
        _ => "string".into(),
    }
}

/// Elements of a slice or array value (a nil slice has none).
fn items<'d>(data: &Data<'d>, t: Ty) -> Vec<Val<'d>> {
    let et = elem_ty(t);
    let n = match &**data {
        Value::Array(a) => a.len(),
        _ => 0,
    };
    let mut out: Vec<Val<'d>> = (0..n)
        .filter_map(|i| data.child(|v| v.get(i)).map(|c| Val::V(c, et)))
        .collect();
    if let Ty::Go(GoType::Array(_, len, e)) = t {
        while out.len() < *len {
            out.push(Val::own(zero(e), Ty::Go(e)));
        }
    }
    out
}

/// Entries of a map value in Go's order (sorted keys).
fn entries<'d>(data: &Data<'d>, t: Ty) -> Vec<(String, Val<'d>)> {
    let et = elem_ty(t);
    let mut keys: Vec<&String> = match &**data {
        Value::Object(m) => m.keys().collect(),
        _ => Vec::new(),
    };
    keys.sort();
    keys.into_iter()
        .filter_map(|k| {
            data.child(|v| v.get(k.as_str()))
                .map(|c| (k.clone(), Val::V(c, et)))
        })
        .collect()
}

fn len_of(v: &Value, k: Kind) -> usize {
    match (v, k) {
        (Value::Array(a), _) => a.len(),
        (Value::Object(m), _) => m.len(),
        (_, Kind::String) => str_of(v).len(),
        _ => 0,
    }
}

/// reflect's indirect through pointers and interfaces; true when it stops at a nil.
fn indirect(v: Val<'_>) -> (Val<'_>, bool) {
    let mut v = v;
    loop {
        let Val::V(d, t) = &v else {
            return (v, false);
        };
        match (kind_of(d, *t), t) {
            (Kind::Ptr, Ty::Go(GoType::Ptr(e))) => {
                if d.is_null() {
                    return (v, true);
                }
                v = Val::V(d.clone(), Ty::Go(e));
            }
            (Kind::Interface, _) => {
                if d.is_null() {
                    return (v, true);
                }
                v = Val::V(d.clone(), Ty::Raw);
            }
            _ => return (v, false),
        }
    }
}

/// The concrete value in an interface (no value for a nil interface).
fn indirect_interface(v: Val<'_>) -> Val<'_> {
    match &v {
        Val::V(d, _) if v.kind() == Kind::Interface => {
            if d.is_null() {
                Val::Invalid
            } else {
                Val::V(d.clone(), Ty::Raw)
            }
        }
        _ => v,
    }
}

/// The digging of `evalPipeline`: an empty interface becomes what it holds.
fn dig(v: Val<'_>) -> Val<'_> {
    match &v {
        Val::V(d, Ty::Raw | Ty::Dyn) if d.is_null() => Val::Invalid,
        _ => indirect_interface(v),
    }
}

/// Go's truth: not the zero value of its type.
fn is_true(v: &Val<'_>) -> bool {
    let Val::V(d, _) = v else {
        return false;
    };
    match v.kind() {
        Kind::Invalid => false,
        Kind::Array | Kind::Map | Kind::Slice | Kind::String => len_of(d, v.kind()) > 0,
        Kind::Bool => d.as_bool().unwrap_or(false),
        Kind::Int => as_i64(d) != 0,
        Kind::Uint => as_u64(d) != 0,
        Kind::Float => as_f64(d) != 0.0,
        Kind::Ptr | Kind::Interface => !d.is_null(),
        Kind::Struct => true,
    }
}

fn truth(v: &Val<'_>) -> bool {
    is_true(&indirect_interface(v.clone()))
}

// ---------------------------------------------------------------------------------------
// Execution (text/template/exec.go)
// ---------------------------------------------------------------------------------------

const MAX_EXEC_DEPTH: usize = 1000;

enum Flow {
    Break,
    Continue,
    Err(String),
}

type R<T> = Result<T, Flow>;

#[derive(Clone, Copy)]
enum Loc<'t> {
    None,
    Node(&'t Node),
    Pipe(&'t Pipe),
    Cmd(&'t Cmd),
    Op(&'t Operand),
}

/// The parameter types of the builtin functions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum P {
    /// `any`
    Any,
    /// `reflect.Value`
    Val,
    Str,
    Int,
}

enum Arg<'d> {
    V(Val<'d>),
    S(String),
    I(i64),
}

impl<'d> Arg<'d> {
    fn val(self) -> Val<'d> {
        match self {
            Arg::V(v) => v,
            Arg::S(s) => Val::str(s),
            Arg::I(i) => Val::int(i),
        }
    }
    fn s(&self) -> &str {
        match self {
            Arg::S(s) => s,
            _ => "",
        }
    }
    fn i(&self) -> i64 {
        match self {
            Arg::I(i) => *i,
            _ => 0,
        }
    }
}

/// (fixed parameters, variadic parameter) of a function.
fn signature(name: &str) -> (&'static [P], Option<P>) {
    use P::*;
    match name {
        "and" | "or" | "index" | "slice" | "eq" | "call" => (&[Val], Some(Val)),
        "not" | "len" => (&[Val], None),
        "ne" | "lt" | "le" | "gt" | "ge" => (&[Val, Val], None),
        "print" | "println" | "html" | "js" | "urlquery" => (&[], Some(Any)),
        "printf" => (&[Str], Some(Any)),
        "json" => (&[Any], None),
        "split" => (&[Str, Str], None),
        "join" => (&[Any, Str], None),
        "title" | "lower" | "upper" => (&[Str], None),
        "pad" => (&[Str, Int, Int], None),
        "truncate" => (&[Str, Int], None),
        _ => (&[], None),
    }
}

/// The signatures of docker's HeaderFunctions, which return their first argument.
fn header_signature(name: &str) -> Option<(&'static [P], Option<P>)> {
    use P::*;
    Some(match name {
        "json" | "title" | "lower" | "upper" => (&[Str], None),
        "split" | "join" => (&[Str, Str], None),
        "truncate" => (&[Str, Int], None),
        _ => return None,
    })
}

struct State<'t, 'd, 'o> {
    tmpl: &'t Template,
    opts: &'o Options<'o>,
    root: &'d Value,
    name: &'t str,
    node: Loc<'t>,
    vars: Vec<(&'t str, Val<'d>)>,
    depth: usize,
    out: String,
}

impl<'t, 'd> State<'t, 'd, '_> {
    fn at(&mut self, loc: Loc<'t>) {
        self.node = loc;
    }

    fn errorf(&self, msg: impl fmt::Display) -> Flow {
        let (pos, ctx) = match self.node {
            Loc::None => return Flow::Err(format!("template: {}: {msg}", self.name)),
            Loc::Node(n) => (node_pos(n), n.to_string()),
            Loc::Pipe(p) => (p.pos, p.to_string()),
            Loc::Cmd(c) => (c.pos, c.to_string()),
            Loc::Op(o) => (o.pos(), o.to_string()),
        };
        let text = &self.tmpl.text[..pos.min(self.tmpl.text.len())];
        let (line, col) = match text.rfind('\n') {
            None => (1, pos),
            Some(i) => (1 + text.matches('\n').count(), pos - (i + 1)),
        };
        Flow::Err(format!(
            "template: :{line}:{col}: executing {} at <{ctx}>: {msg}",
            go_quote(self.name)
        ))
    }

    fn walk_list(&mut self, dot: &Val<'d>, list: &'t List) -> R<()> {
        for n in &list.nodes {
            self.walk(dot, n)?;
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Val<'d>, node: &'t Node) -> R<()> {
        self.at(Loc::Node(node));
        match node {
            Node::Text(t) => {
                self.out.push_str(t);
                Ok(())
            }
            Node::Action { pipe, .. } => {
                let v = self.eval_pipeline(dot, Some(pipe))?;
                if pipe.decl.is_empty() {
                    self.at(Loc::Node(node));
                    self.print_value(&v);
                }
                Ok(())
            }
            Node::Comment | Node::End { .. } | Node::Else { .. } => Ok(()),
            Node::Break { .. } => Err(Flow::Break),
            Node::Continue { .. } => Err(Flow::Continue),
            Node::If(b) => self.walk_if_or_with(false, dot, b),
            Node::With(b) => self.walk_if_or_with(true, dot, b),
            Node::Range(b) => {
                let mark = self.vars.len();
                let r = self.walk_range(dot, node, b);
                self.vars.truncate(mark);
                match r {
                    Err(Flow::Break) => Ok(()),
                    r => r,
                }
            }
            Node::Template { name, pipe, .. } => self.walk_template(dot, node, name, pipe.as_ref()),
        }
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &Val<'d>, b: &'t Branch) -> R<()> {
        let mark = self.vars.len();
        let r = (|| {
            let val = self.eval_pipeline(dot, Some(&b.pipe))?;
            if truth(&val) {
                if with {
                    self.walk_list(&val, &b.list)
                } else {
                    self.walk_list(dot, &b.list)
                }
            } else if let Some(e) = &b.else_list {
                self.walk_list(dot, e)
            } else {
                Ok(())
            }
        })();
        self.vars.truncate(mark);
        r
    }

    fn set_top_var(&mut self, n: usize, v: Val<'d>) {
        let len = self.vars.len();
        if n <= len {
            self.vars[len - n].1 = v;
        }
    }

    fn set_var(&mut self, name: &str, v: Val<'d>) -> R<()> {
        for (n, val) in self.vars.iter_mut().rev() {
            if *n == name {
                *val = v;
                return Ok(());
            }
        }
        Err(self.errorf(format!("undefined variable: {name}")))
    }

    fn var_value(&self, name: &str) -> R<Val<'d>> {
        for (n, val) in self.vars.iter().rev() {
            if *n == name {
                return Ok(val.clone());
            }
        }
        Err(self.errorf(format!("undefined variable: {name}")))
    }

    fn one_iteration(
        &mut self,
        b: &'t Branch,
        mark: usize,
        index: Val<'d>,
        elem: Val<'d>,
    ) -> R<()> {
        let decl = &b.pipe.decl;
        if !decl.is_empty() {
            if b.pipe.is_assign {
                if decl.len() > 1 {
                    self.set_var(&decl[0], index.clone())?;
                } else {
                    self.set_var(&decl[0], elem.clone())?;
                }
            } else {
                self.set_top_var(1, elem.clone());
            }
        }
        if decl.len() > 1 {
            if b.pipe.is_assign {
                self.set_var(&decl[1], elem.clone())?;
            } else {
                self.set_top_var(2, index);
            }
        }
        let r = self.walk_list(&elem, &b.list);
        self.vars.truncate(mark);
        match r {
            Err(Flow::Continue) => Ok(()),
            r => r,
        }
    }

    fn walk_range(&mut self, dot: &Val<'d>, node: &'t Node, b: &'t Branch) -> R<()> {
        self.at(Loc::Node(node));
        let (val, _) = indirect(self.eval_pipeline(dot, Some(&b.pipe))?);
        let mark = self.vars.len();
        match (&val, val.kind()) {
            (Val::V(d, t), Kind::Slice | Kind::Array) => {
                let elems = items(d, *t);
                if !elems.is_empty() {
                    for (i, e) in elems.into_iter().enumerate() {
                        self.one_iteration(b, mark, Val::int(i as i64), e)?;
                    }
                    return Ok(());
                }
            }
            (Val::V(d, t), Kind::Map) => {
                let es = entries(d, *t);
                if !es.is_empty() {
                    let kt = key_ty(*t);
                    for (k, v) in es {
                        self.one_iteration(b, mark, Val::own(Value::String(k), kt), v)?;
                    }
                    return Ok(());
                }
            }
            (Val::V(d, t), Kind::Int | Kind::Uint) => {
                if b.pipe.decl.len() > 1 {
                    let shown = sprint_v(&val);
                    return Err(self.errorf(format!(
                        "can't use {shown} to iterate over more than one variable"
                    )));
                }
                let n = as_i64(d);
                if n > 0 {
                    for i in 0..n {
                        let v = Val::own(Value::from(i), *t);
                        self.one_iteration(b, mark, v.clone(), v)?;
                    }
                    return Ok(());
                }
            }
            (Val::Invalid, _) => {}
            _ => {
                let shown = sprint_v(&val);
                return Err(self.errorf(format!("range can't iterate over {shown}")));
            }
        }
        match &b.else_list {
            Some(e) => self.walk_list(dot, e),
            None => Ok(()),
        }
    }

    fn walk_template(
        &mut self,
        dot: &Val<'d>,
        node: &'t Node,
        name: &'t str,
        pipe: Option<&'t Pipe>,
    ) -> R<()> {
        self.at(Loc::Node(node));
        let tmpl = self.tmpl;
        let Some(tree) = tmpl.trees.get(name) else {
            return Err(self.errorf(format!("template {} not defined", go_quote(name))));
        };
        if self.depth >= MAX_EXEC_DEPTH {
            return Err(self.errorf(format!(
                "exceeded maximum template depth ({MAX_EXEC_DEPTH})"
            )));
        }
        let dot = self.eval_pipeline(dot, pipe)?;
        let vars = std::mem::replace(&mut self.vars, vec![("$", dot.clone())]);
        let outer = std::mem::replace(&mut self.name, name);
        self.depth += 1;
        let r = self.walk_list(&dot, tree);
        self.depth -= 1;
        self.name = outer;
        self.vars = vars;
        r
    }

    fn eval_pipeline(&mut self, dot: &Val<'d>, pipe: Option<&'t Pipe>) -> R<Val<'d>> {
        let Some(pipe) = pipe else {
            return Ok(Val::Invalid);
        };
        self.at(Loc::Pipe(pipe));
        let mut value: Option<Val<'d>> = None;
        for cmd in &pipe.cmds {
            let v = self.eval_command(dot, cmd, value.take())?;
            value = Some(dig(v));
        }
        let value = value.unwrap_or(Val::Invalid);
        for var in &pipe.decl {
            if pipe.is_assign {
                self.set_var(var, value.clone())?;
            } else {
                self.vars.push((var.as_str(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Operand], fin: &Option<Val<'d>>) -> R<()> {
        if args.len() > 1 || fin.is_some() {
            return Err(self.errorf(format!("can't give argument to non-function {}", args[0])));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Val<'d>, cmd: &'t Cmd, fin: Option<Val<'d>>) -> R<Val<'d>> {
        let first = &cmd.args[0];
        match first {
            Operand::Field { ident, .. } => {
                self.at(Loc::Op(first));
                self.eval_field_chain(dot, dot.clone(), ident, &cmd.args, fin)
            }
            Operand::Chain { .. } => self.eval_chain(dot, first, &cmd.args, fin),
            Operand::Identifier { name, .. } => {
                self.at(Loc::Op(first));
                self.eval_call(dot, name, Loc::Cmd(cmd), &cmd.args, fin)
            }
            Operand::Pipe(p) => {
                self.not_a_function(&cmd.args, &fin)?;
                self.eval_pipeline(dot, Some(p))
            }
            Operand::Variable { .. } => self.eval_variable(dot, first, &cmd.args, fin),
            _ => {
                self.at(Loc::Op(first));
                self.not_a_function(&cmd.args, &fin)?;
                match first {
                    Operand::Bool { val, .. } => Ok(Val::bool(*val)),
                    Operand::Dot { .. } => Ok(dot.clone()),
                    Operand::Nil { .. } => Err(self.errorf("nil is not a command")),
                    Operand::Number { .. } => self.ideal_constant(first),
                    Operand::String { text, .. } => Ok(Val::str(text.clone())),
                    _ => Err(self.errorf(format!(
                        "can't evaluate command {}",
                        go_quote(&first.to_string())
                    ))),
                }
            }
        }
    }

    fn ideal_constant(&mut self, n: &'t Operand) -> R<Val<'d>> {
        self.at(Loc::Op(n));
        let Operand::Number { num, .. } = n else {
            return Ok(Val::Invalid);
        };
        let t = &num.text;
        let hex_int = t.len() > 2
            && t.starts_with('0')
            && (t.as_bytes()[1] == b'x' || t.as_bytes()[1] == b'X')
            && !t.contains(['p', 'P']);
        let rune_int = t.starts_with('\'');
        if num.is_float && !hex_int && !rune_int && t.contains(['.', 'e', 'E', 'p', 'P']) {
            let v = Number::from_f64(num.float).map_or(Value::Null, Value::Number);
            return Ok(Val::own(v, Ty::Dyn));
        }
        if num.is_int {
            return Ok(Val::int(num.int));
        }
        if num.is_uint {
            return Err(self.errorf(format!("{t} overflows int")));
        }
        Ok(Val::Invalid)
    }

    fn eval_chain(
        &mut self,
        dot: &Val<'d>,
        chain: &'t Operand,
        args: &'t [Operand],
        fin: Option<Val<'d>>,
    ) -> R<Val<'d>> {
        self.at(Loc::Op(chain));
        let Operand::Chain { node, field, .. } = chain else {
            return Ok(Val::Invalid);
        };
        if let Operand::Nil { .. } = **node {
            return Err(self.errorf(format!("indirection through explicit nil in {chain}")));
        }
        let pipe = self.eval_arg(dot, P::Any, node)?.val();
        self.eval_field_chain(dot, pipe, field, args, fin)
    }

    fn eval_variable(
        &mut self,
        dot: &Val<'d>,
        var: &'t Operand,
        args: &'t [Operand],
        fin: Option<Val<'d>>,
    ) -> R<Val<'d>> {
        self.at(Loc::Op(var));
        let Operand::Variable { ident, .. } = var else {
            return Ok(Val::Invalid);
        };
        let value = self.var_value(&ident[0])?;
        if ident.len() == 1 {
            if !args.is_empty() {
                self.not_a_function(args, &fin)?;
            }
            return Ok(value);
        }
        self.eval_field_chain(dot, value, &ident[1..], args, fin)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Val<'d>,
        receiver: Val<'d>,
        ident: &'t [String],
        args: &'t [Operand],
        fin: Option<Val<'d>>,
    ) -> R<Val<'d>> {
        let n = ident.len();
        let mut r = receiver;
        for name in &ident[..n - 1] {
            r = self.eval_field(dot, name, &[], None, r)?;
        }
        self.eval_field(dot, &ident[n - 1], args, fin, r)
    }

    fn eval_field(
        &mut self,
        dot: &Val<'d>,
        name: &str,
        args: &'t [Operand],
        fin: Option<Val<'d>>,
        receiver: Val<'d>,
    ) -> R<Val<'d>> {
        let Val::V(data, _) = &receiver else {
            if self.opts.missing_key == MissingKey::Error {
                return Err(self.errorf(format!("nil data; no entry for key {}", go_quote(name))));
            }
            return Ok(Val::Invalid);
        };
        if std::ptr::eq(&**data, self.root)
            && let Some(m) = self.opts.methods.get(name)
        {
            return self.call_method(dot, m, name, args, fin);
        }
        let typ = receiver.type_name();
        let (rv, is_nil) = indirect(receiver.clone());
        if rv.kind() == Kind::Interface && is_nil {
            return Err(self.errorf(format!("nil pointer evaluating {typ}.{name}")));
        }
        let has_args = args.len() > 1 || fin.is_some();
        if let Val::V(d, t) = &rv {
            match (rv.kind(), t) {
                (Kind::Struct, Ty::Go(GoType::Struct(st))) => {
                    if let Some(f) = find_field(st, name) {
                        if has_args && f.method {
                            let got = args.len().saturating_sub(1) + usize::from(fin.is_some());
                            return Err(self.errorf(format!(
                                "wrong number of args for {name}: want 0 got {got}"
                            )));
                        }
                        if has_args {
                            return Err(self.errorf(format!(
                                "{name} has arguments but cannot be invoked as function"
                            )));
                        }
                        return Ok(field_value(d, f));
                    }
                }
                (Kind::Map, _) if key_type_name(*t) == "string" => {
                    if has_args {
                        return Err(
                            self.errorf(format!("{name} is not a method but has arguments"))
                        );
                    }
                    return match d.child(|v| v.get(name)) {
                        Some(c) => Ok(Val::V(c, elem_ty(*t))),
                        None => match self.opts.missing_key {
                            MissingKey::NoValue => Ok(Val::Invalid),
                            MissingKey::Zero => {
                                let et = elem_ty(*t);
                                let z = match et {
                                    Ty::Go(g) => zero(g),
                                    _ => Value::Null,
                                };
                                Ok(Val::own(z, et))
                            }
                            MissingKey::Error => {
                                Err(self
                                    .errorf(format!("map has no entry for key {}", go_quote(name))))
                            }
                        },
                    };
                }
                (Kind::Ptr, Ty::Go(GoType::Ptr(e))) => {
                    let no_field = match e {
                        GoType::Struct(st) => find_field(st, name).is_none(),
                        _ => false,
                    };
                    if !no_field && is_nil {
                        return Err(self.errorf(format!("nil pointer evaluating {typ}.{name}")));
                    }
                }
                _ => {}
            }
        }
        Err(self.errorf(format!("can't evaluate field {name} in type {typ}")))
    }

    fn call_method(
        &mut self,
        dot: &Val<'d>,
        m: &Method<'_>,
        name: &str,
        args: &'t [Operand],
        fin: Option<Val<'d>>,
    ) -> R<Val<'d>> {
        let node = self.node;
        let args = if args.is_empty() { args } else { &args[1..] };
        let num_in = args.len() + usize::from(fin.is_some());
        if num_in != m.args {
            return Err(self.errorf(format!(
                "wrong number of args for {name}: want {} got {num_in}",
                m.args
            )));
        }
        let mut argv = Vec::new();
        for a in args {
            argv.push(self.eval_arg(dot, P::Any, a)?.val().to_json());
        }
        if let Some(f) = fin {
            argv.push(f.to_json());
        }
        match (m.call)(&argv) {
            Ok(v) => Ok(Val::own(v, Ty::Dyn)),
            Err(e) => {
                self.at(node);
                Err(self.errorf(format!("error calling {name}: {e}")))
            }
        }
    }

    fn eval_call(
        &mut self,
        dot: &Val<'d>,
        name: &str,
        node: Loc<'t>,
        args: &'t [Operand],
        fin: Option<Val<'d>>,
    ) -> R<Val<'d>> {
        let args = if args.is_empty() { args } else { &args[1..] };
        let header = self.opts.header_functions;
        let (fixed, variadic) = if header {
            header_signature(name).unwrap_or_else(|| signature(name))
        } else {
            signature(name)
        };
        let num_in = args.len() + usize::from(fin.is_some());
        let num_fixed = fixed.len();
        if variadic.is_some() {
            if num_in < num_fixed {
                return Err(self.errorf(format!(
                    "wrong number of args for {name}: want at least {num_fixed} got {}",
                    args.len()
                )));
            }
        } else if num_in != num_fixed {
            return Err(self.errorf(format!(
                "wrong number of args for {name}: want {num_fixed} got {num_in}"
            )));
        }
        if name == "and" || name == "or" {
            let mut v = Val::Invalid;
            for a in args {
                v = self.eval_arg(dot, P::Val, a)?.val();
                if truth(&v) == (name == "or") {
                    return Ok(v);
                }
            }
            if let Some(f) = fin {
                v = f;
            }
            return Ok(v);
        }
        let mut argv = Vec::with_capacity(num_in);
        for (i, a) in args.iter().enumerate() {
            let p = if i < num_fixed {
                fixed[i]
            } else {
                variadic.unwrap_or(P::Any)
            };
            argv.push(self.eval_arg(dot, p, a)?);
        }
        if let Some(f) = fin {
            let p = match variadic {
                Some(v) if num_in > num_fixed => v,
                _ => fixed[num_in - 1],
            };
            argv.push(self.validate(f, p)?);
        }
        let callee = if name == "call" {
            match args.first() {
                Some(a) => a.to_string(),
                None => argv
                    .first()
                    .map(|a| match a {
                        Arg::V(v) if v.kind() == Kind::String => match v {
                            Val::V(d, _) => str_of(d).into_owned(),
                            Val::Invalid => String::new(),
                        },
                        Arg::V(v) => format!("<{} Value>", v.type_name()),
                        _ => String::new(),
                    })
                    .unwrap_or_default(),
            }
        } else {
            String::new()
        };
        if header && header_signature(name).is_some() {
            return Ok(Val::str(argv.swap_remove(0).s()));
        }
        match call_builtin(name, &callee, argv) {
            Ok(v) => Ok(v),
            Err(e) => {
                self.at(node);
                Err(self.errorf(format!("error calling {name}: {e}")))
            }
        }
    }

    fn eval_arg(&mut self, dot: &Val<'d>, p: P, n: &'t Operand) -> R<Arg<'d>> {
        self.at(Loc::Op(n));
        let v = match n {
            Operand::Dot { .. } => dot.clone(),
            Operand::Nil { .. } => {
                return match p {
                    P::Any | P::Val => Ok(Arg::V(Val::Invalid)),
                    P::Str => Err(self.errorf("cannot assign nil to string")),
                    P::Int => Err(self.errorf("cannot assign nil to int")),
                };
            }
            Operand::Field { ident, .. } => {
                self.eval_field_chain(dot, dot.clone(), ident, std::slice::from_ref(n), None)?
            }
            Operand::Variable { .. } => self.eval_variable(dot, n, &[], None)?,
            Operand::Pipe(pipe) => self.eval_pipeline(dot, Some(pipe))?,
            Operand::Identifier { name, .. } => self.eval_call(dot, name, Loc::Op(n), &[], None)?,
            Operand::Chain { .. } => self.eval_chain(dot, n, &[], None)?,
            Operand::Bool { val, .. } => match p {
                P::Any | P::Val => Val::bool(*val),
                P::Str => return Err(self.errorf(format!("expected string; found {n}"))),
                P::Int => return Err(self.errorf(format!("expected integer; found {n}"))),
            },
            Operand::Number { num, .. } => match p {
                P::Any | P::Val => self.ideal_constant(n)?,
                P::Str => return Err(self.errorf(format!("expected string; found {n}"))),
                P::Int if num.is_int => return Ok(Arg::I(num.int)),
                P::Int => return Err(self.errorf(format!("expected integer; found {n}"))),
            },
            Operand::String { text, .. } => match p {
                P::Any | P::Val => Val::str(text.clone()),
                P::Str => return Ok(Arg::S(text.clone())),
                P::Int => return Err(self.errorf(format!("expected integer; found {n}"))),
            },
        };
        self.validate(v, p)
    }

    /// validateType: a value for a parameter of type string or int.
    fn validate(&self, v: Val<'d>, p: P) -> R<Arg<'d>> {
        let (want, kind) = match p {
            P::Any | P::Val => return Ok(Arg::V(v)),
            P::Str => ("string", Kind::String),
            P::Int => ("int", Kind::Int),
        };
        if let Val::Invalid = v {
            return Err(self.errorf(format!("invalid value; expected {want}")));
        }
        let mut v = v;
        if v.kind() == Kind::Interface && !v.is_nil() {
            v = indirect_interface(v);
        }
        if v.kind() == Kind::Ptr
            && let Val::V(d, Ty::Go(GoType::Ptr(e))) = &v
            && go_type_name(e) == want
        {
            if d.is_null() {
                return Err(self.errorf(format!("dereference of nil pointer of type {want}")));
            }
            v = Val::V(d.clone(), Ty::Go(e));
        }
        if v.kind() == kind
            && v.type_name() == want
            && let Val::V(d, _) = &v
        {
            return Ok(match p {
                P::Str => Arg::S(str_of(d).into_owned()),
                _ => Arg::I(as_i64(d)),
            });
        }
        Err(self.errorf(format!(
            "wrong type for value; expected {want}; got {}",
            v.type_name()
        )))
    }

    fn print_value(&mut self, v: &Val<'d>) {
        match printable(v.clone()) {
            Val::Invalid => self.out.push_str("<no value>"),
            v => {
                let mut p = Printer::default();
                p.print_arg(&v, 'v');
                self.out.push_str(&p.buf);
            }
        }
    }
}

fn node_pos(n: &Node) -> usize {
    match n {
        Node::Text(_) | Node::Comment => 0,
        Node::Action { pos, .. }
        | Node::Template { pos, .. }
        | Node::Break { pos }
        | Node::Continue { pos }
        | Node::End { pos }
        | Node::Else { pos } => *pos,
        Node::If(b) | Node::Range(b) | Node::With(b) => b.pos,
    }
}

/// printableValue: pointers are followed (a stringer struct keeps its pointer).
fn printable(v: Val<'_>) -> Val<'_> {
    if v.kind() != Kind::Ptr {
        return v;
    }
    if let Val::V(d, Ty::Go(GoType::Ptr(GoType::Struct(st)))) = &v
        && st.stringer.is_some()
        && !d.is_null()
    {
        return v;
    }
    indirect(v).0
}

/// What a function with an `any` parameter receives: the value an interface holds.
fn iface<'d>(v: &Val<'d>) -> Val<'d> {
    indirect_interface(v.clone())
}

// ---------------------------------------------------------------------------------------
// Functions (text/template/funcs.go and docker/cli templates/templates.go)
// ---------------------------------------------------------------------------------------

fn call_builtin<'d>(name: &str, callee: &str, argv: Vec<Arg<'d>>) -> Result<Val<'d>, String> {
    let mut argv = argv;
    match name {
        "not" => Ok(Val::bool(!truth(&argv.remove(0).val()))),
        "len" => length(argv.remove(0).val()),
        "index" => {
            let item = argv.remove(0).val();
            index(item, argv.into_iter().map(Arg::val).collect())
        }
        "slice" => {
            let item = argv.remove(0).val();
            slice(item, argv.into_iter().map(Arg::val).collect())
        }
        "print" | "println" | "html" | "js" | "urlquery" | "printf" | "eq" | "ne" | "lt" | "le"
        | "gt" | "ge" | "call" | "json" | "join" => call_value_func(name, callee, argv),
        "split" => {
            let (s, sep) = (argv[0].s(), argv[1].s());
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                s.split(sep).map(|p| Value::String(p.to_string())).collect()
            };
            Ok(Val::own(Value::Array(parts), Ty::Go(&STRINGS)))
        }
        "title" => Ok(Val::str(go_title(argv[0].s()))),
        "lower" => Ok(Val::str(go_lower(argv[0].s()))),
        "upper" => Ok(Val::str(go_upper(argv[0].s()))),
        "pad" => {
            let (s, prefix, suffix) = (argv[0].s(), argv[1].i(), argv[2].i());
            if s.is_empty() {
                return Ok(Val::str(""));
            }
            if prefix < 0 || suffix < 0 {
                return Err("strings: negative Repeat count".into());
            }
            Ok(Val::str(format!(
                "{}{s}{}",
                " ".repeat(prefix as usize),
                " ".repeat(suffix as usize)
            )))
        }
        "truncate" => {
            let (s, n) = (argv[0].s(), argv[1].i());
            if (s.len() as i64) < n {
                return Ok(Val::str(s));
            }
            if n < 0 {
                return Err(format!("runtime error: slice bounds out of range [:{n}]"));
            }
            Ok(Val::str(String::from_utf8_lossy(
                &s.as_bytes()[..n as usize],
            )))
        }
        _ => Err(format!("{name} is not a function")),
    }
}

fn call_value_func<'d>(name: &str, callee: &str, argv: Vec<Arg<'d>>) -> Result<Val<'d>, String> {
    let mut argv = argv;
    match name {
        "print" => Ok(Val::str(sprint(&vals(argv), false))),
        "println" => Ok(Val::str(sprint(&vals(argv), true))),
        "printf" => {
            let format = match argv.remove(0) {
                Arg::S(s) => s,
                a => str_arg(&a.val()),
            };
            Ok(Val::str(sprintf(&format, &vals(argv))))
        }
        "html" => Ok(Val::str(html_escape(&eval_args(&vals(argv))))),
        "js" => Ok(Val::str(js_escape(&eval_args(&vals(argv))))),
        "urlquery" => Ok(Val::str(query_escape(&eval_args(&vals(argv))))),
        "eq" => {
            let a = argv.remove(0).val();
            Ok(Val::bool(eq(a, vals(argv))?))
        }
        "ne" => {
            let (a, b) = (argv.remove(0).val(), argv.remove(0).val());
            Ok(Val::bool(!eq(a, vec![b])?))
        }
        "lt" | "le" | "gt" | "ge" => {
            let (a, b) = (argv.remove(0).val(), argv.remove(0).val());
            let r = match name {
                "lt" => lt(a, b)?,
                "le" => lt(a.clone(), b.clone())? || eq(a, vec![b])?,
                "gt" => !(lt(a.clone(), b.clone())? || eq(a, vec![b])?),
                _ => !lt(a, b)?,
            };
            Ok(Val::bool(r))
        }
        "call" => {
            let f = indirect_interface(argv.remove(0).val());
            match f {
                Val::Invalid => Err("call of nil".into()),
                f => Err(format!("non-function {callee} of type {}", f.type_name())),
            }
        }
        "json" => {
            let v = iface(&argv.remove(0).val());
            let mut out = String::new();
            match &v {
                Val::Invalid => out.push_str("null"),
                Val::V(d, t) => json_encode(&mut out, d, *t, false),
            }
            Ok(Val::str(out.trim().to_string()))
        }
        "join" => {
            let elems = iface(&argv.remove(0).val());
            let sep = argv.remove(0);
            join(elems, sep.s()).map(Val::str)
        }
        _ => Err(format!("{name} is not a function")),
    }
}

fn vals(argv: Vec<Arg<'_>>) -> Vec<Val<'_>> {
    argv.into_iter().map(Arg::val).collect()
}

fn str_arg(v: &Val<'_>) -> String {
    match v {
        Val::V(d, _) => str_of(d).into_owned(),
        Val::Invalid => String::new(),
    }
}

fn length(v: Val<'_>) -> Result<Val<'_>, String> {
    let (item, is_nil) = indirect(v);
    if is_nil {
        return Err("len of nil pointer".into());
    }
    match (&item, item.kind()) {
        (Val::V(d, _), k @ (Kind::Array | Kind::Map | Kind::Slice | Kind::String)) => {
            let n = match (&**d, item.kind()) {
                (_, Kind::Array) => items(d, ty_of(&item)).len(),
                _ => len_of(d, k),
            };
            Ok(Val::int(n as i64))
        }
        (Val::Invalid, _) => Err("reflect: call of reflect.Value.Type on zero Value".into()),
        _ => Err(format!("len of type {}", item.type_name())),
    }
}

fn ty_of(v: &Val<'_>) -> Ty {
    match v {
        Val::V(_, t) => *t,
        Val::Invalid => Ty::Dyn,
    }
}

fn index_arg(index: &Val<'_>, cap: usize) -> Result<usize, String> {
    let x = match (index, index.kind()) {
        (Val::V(d, _), Kind::Int) => as_i64(d),
        (Val::V(d, _), Kind::Uint) => as_u64(d) as i64,
        (_, Kind::Invalid) => return Err("cannot index slice/array with nil".into()),
        _ => {
            return Err(format!(
                "cannot index slice/array with type {}",
                index.type_name()
            ));
        }
    };
    if x < 0 || x as u64 > cap as u64 {
        return Err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

fn index<'d>(item: Val<'d>, indexes: Vec<Val<'d>>) -> Result<Val<'d>, String> {
    let mut item = indirect_interface(item);
    if let Val::Invalid = item {
        return Err("index of untyped nil".into());
    }
    for idx in indexes {
        let idx = indirect_interface(idx);
        let (it, is_nil) = indirect(item);
        if is_nil {
            return Err("index of nil pointer".into());
        }
        item = it;
        let Val::V(d, t) = &item else {
            return Err("index of untyped nil".into());
        };
        match item.kind() {
            Kind::String => {
                let s = str_of(d);
                let x = index_arg(&idx, s.len())?;
                let Some(&b) = s.as_bytes().get(x) else {
                    return Err("reflect: string index out of range".into());
                };
                item = Val::own(Value::from(b), Ty::Go(&UINT8));
            }
            k @ (Kind::Slice | Kind::Array) => {
                let elems = items(d, *t);
                let x = index_arg(&idx, elems.len())?;
                let Some(e) = elems.into_iter().nth(x) else {
                    return Err(if k == Kind::Array {
                        "reflect: array index out of range".into()
                    } else {
                        "reflect: slice index out of range".into()
                    });
                };
                item = e;
            }
            Kind::Map => {
                let want = key_type_name(*t);
                let key = match &idx {
                    Val::Invalid => {
                        return Err(format!("value is nil; should be of type {want}"));
                    }
                    Val::V(kd, _) => {
                        if idx.type_name() != want {
                            return Err(format!(
                                "value has type {}; should be {want}",
                                idx.type_name()
                            ));
                        }
                        str_of(kd).into_owned()
                    }
                };
                let et = elem_ty(*t);
                item = match d.child(|v| v.get(key.as_str())) {
                    Some(c) => Val::V(c, et),
                    None => match et {
                        Ty::Go(g) => Val::own(zero(g), et),
                        _ => Val::own(Value::Null, Ty::Go(&INTERFACE)),
                    },
                };
            }
            _ => return Err(format!("can't index item of type {}", item.type_name())),
        }
    }
    Ok(item)
}

fn slice<'d>(item: Val<'d>, indexes: Vec<Val<'d>>) -> Result<Val<'d>, String> {
    let item = indirect_interface(item);
    let Val::V(d, t) = &item else {
        return Err("slice of untyped nil".into());
    };
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let len = match item.kind() {
        Kind::String => {
            if indexes.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            str_of(d).len()
        }
        Kind::Array | Kind::Slice => items(d, *t).len(),
        _ => return Err(format!("can't slice item of type {}", item.type_name())),
    };
    let mut idx = [0, len, 0];
    for (i, index) in indexes.iter().enumerate() {
        idx[i] = index_arg(index, len)?;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    if item.kind() == Kind::String {
        let s = str_of(d);
        let part = String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).into_owned();
        return Ok(Val::own(Value::String(part), *t));
    }
    let all: Vec<Value> = items(d, *t).iter().map(Val::to_json).collect();
    Ok(Val::own(Value::Array(all[idx[0]..idx[1]].to_vec()), *t))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Basic {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    String,
}

fn basic_kind(v: &Val<'_>) -> Basic {
    match v.kind() {
        Kind::Bool => Basic::Bool,
        Kind::Int => Basic::Int,
        Kind::Uint => Basic::Uint,
        Kind::Float => Basic::Float,
        Kind::String => Basic::String,
        _ => Basic::Invalid,
    }
}

fn num_i(v: &Val<'_>) -> i64 {
    match v {
        Val::V(d, _) => as_i64(d),
        Val::Invalid => 0,
    }
}

fn num_u(v: &Val<'_>) -> u64 {
    match v {
        Val::V(d, _) => as_u64(d),
        Val::Invalid => 0,
    }
}

fn num_f(v: &Val<'_>) -> f64 {
    match v {
        Val::V(d, _) => as_f64(d),
        Val::Invalid => 0.0,
    }
}

fn comparable(v: &Val<'_>) -> bool {
    match (v, v.kind()) {
        (_, Kind::Slice | Kind::Map) => false,
        (Val::V(d, Ty::Go(GoType::Struct(st))), Kind::Struct) => st.fields.iter().all(|f| {
            let fv = field_value(d, f);
            comparable(&fv) || fv.kind() == Kind::Interface
        }),
        (Val::V(d, t), Kind::Array) => items(d, *t).iter().all(comparable),
        _ => true,
    }
}

fn eq<'d>(arg1: Val<'d>, args: Vec<Val<'d>>) -> Result<bool, String> {
    let a1 = indirect_interface(arg1);
    if args.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = basic_kind(&a1);
    for arg in args {
        let a = indirect_interface(arg);
        let k2 = basic_kind(&a);
        let truth = if k1 != k2 {
            match (k1, k2) {
                (Basic::Int, Basic::Uint) => num_i(&a1) >= 0 && num_i(&a1) as u64 == num_u(&a),
                (Basic::Uint, Basic::Int) => num_i(&a) >= 0 && num_u(&a1) == num_i(&a) as u64,
                _ => {
                    if !matches!(a1, Val::Invalid) && !matches!(a, Val::Invalid) {
                        return Err(format!(
                            "incompatible types for comparison: {} and {}",
                            a1.type_name(),
                            a.type_name()
                        ));
                    }
                    false
                }
            }
        } else {
            match k1 {
                Basic::Bool => truth(&a1) == truth(&a),
                Basic::Float => num_f(&a1) == num_f(&a),
                Basic::Int => num_i(&a1) == num_i(&a),
                Basic::Uint => num_u(&a1) == num_u(&a),
                Basic::String => str_arg(&a1) == str_arg(&a),
                Basic::Invalid => {
                    let (c1, c2) = (a1.kind(), a.kind());
                    if c1 != c2 && c1 != Kind::Invalid && c2 != Kind::Invalid {
                        return Err(format!(
                            "non-comparable types {}: {}, {}: {}",
                            sprint_v(&a1),
                            a1.type_name(),
                            a.type_name(),
                            sprint_v(&a)
                        ));
                    }
                    if a1.is_nil() || a.is_nil() {
                        a.is_nil() == a1.is_nil()
                    } else if !comparable(&a) {
                        return Err(format!(
                            "non-comparable type {}: {}",
                            sprint_v(&a),
                            a.type_name()
                        ));
                    } else {
                        a1.to_json() == a.to_json()
                    }
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt<'d>(a: Val<'d>, b: Val<'d>) -> Result<bool, String> {
    let a = indirect_interface(a);
    let k1 = basic_kind(&a);
    if k1 == Basic::Invalid {
        return Err("invalid type for comparison".into());
    }
    let b = indirect_interface(b);
    let k2 = basic_kind(&b);
    if k2 == Basic::Invalid {
        return Err("invalid type for comparison".into());
    }
    if k1 != k2 {
        return match (k1, k2) {
            (Basic::Int, Basic::Uint) => Ok(num_i(&a) < 0 || (num_i(&a) as u64) < num_u(&b)),
            (Basic::Uint, Basic::Int) => Ok(num_i(&b) >= 0 && num_u(&a) < num_i(&b) as u64),
            _ => Err(format!(
                "incompatible types for comparison: {} and {}",
                a.type_name(),
                b.type_name()
            )),
        };
    }
    match k1 {
        Basic::Bool | Basic::Invalid => Err("invalid type for comparison".into()),
        Basic::Float => Ok(num_f(&a) < num_f(&b)),
        Basic::Int => Ok(num_i(&a) < num_i(&b)),
        Basic::Uint => Ok(num_u(&a) < num_u(&b)),
        Basic::String => Ok(str_arg(&a).as_bytes() < str_arg(&b).as_bytes()),
    }
}

/// docker v29's joinElements.
fn join(elems: Val<'_>, sep: &str) -> Result<String, String> {
    let Val::V(d, t) = &elems else {
        return Ok(String::new());
    };
    match elems.kind() {
        Kind::Slice | Kind::Array => Ok(items(d, *t)
            .iter()
            .map(|e| sprint(&[iface(e)], false))
            .collect::<Vec<_>>()
            .join(sep)),
        Kind::Map => {
            let mut out: Vec<String> = entries(d, *t)
                .iter()
                .map(|(_, e)| sprint(&[iface(e)], false))
                .collect();
            out.sort();
            Ok(out.join(sep))
        }
        _ => Err(format!("expected slice, got {}", elems.type_name())),
    }
}

/// evalArgs of html/js/urlquery: fmt.Sprint of the arguments, no value as `<no value>`.
fn eval_args(args: &[Val<'_>]) -> String {
    if let [v @ Val::V(d, _)] = args
        && v.kind() == Kind::String
        && v.type_name() == "string"
    {
        return str_of(d).into_owned();
    }
    let args: Vec<Val<'_>> = args
        .iter()
        .map(|a| match printable(a.clone()) {
            Val::Invalid => Val::str("<no value>"),
            v => v,
        })
        .collect();
    sprint(&args, false)
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u00{:02X}", c as u32);
            }
            c if c.is_ascii() || is_print(c) => out.push(c),
            c => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
        }
    }
    out
}

/// url.QueryEscape.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// unicode.ToUpper per character (simple case mapping, as Go).
fn upper_char(c: char) -> char {
    let mut u = c.to_uppercase();
    match (u.next(), u.next()) {
        (Some(x), None) => x,
        _ => c,
    }
}

fn go_upper(s: &str) -> String {
    s.chars().map(upper_char).collect()
}

fn go_lower(s: &str) -> String {
    s.chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect()
}

/// strings.Title.
fn go_title(s: &str) -> String {
    let is_separator = |r: char| {
        if r.is_ascii() {
            return !(r.is_ascii_alphanumeric() || r == '_');
        }
        if r.is_alphabetic() || r.is_numeric() {
            return false;
        }
        r.is_whitespace()
    };
    let mut prev = ' ';
    s.chars()
        .map(|c| {
            let out = if is_separator(prev) { upper_char(c) } else { c };
            prev = c;
            out
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// fmt (fmt/print.go, fmt/format.go)
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    wid: Option<usize>,
    prec: Option<usize>,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
}

#[derive(Default)]
struct Printer {
    buf: String,
    f: Flags,
    erroring: bool,
}

/// What fmt prints for a non-nil pointer deeper than the top level (an address).
const FAKE_ADDRESS: u64 = 0xc000010000;
const LDIGITS: &[u8] = b"0123456789abcdefx";
const UDIGITS: &[u8] = b"0123456789ABCDEFX";

/// fmt.Sprint (or Sprintln) of template values.
fn sprint(args: &[Val<'_>], ln: bool) -> String {
    let mut p = Printer::default();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let a = iface(a);
        let is_string = a.kind() == Kind::String;
        if i > 0 && (ln || (!is_string && !prev_string)) {
            p.buf.push(' ');
        }
        p.print_arg(&a, 'v');
        prev_string = is_string;
    }
    if ln {
        p.buf.push('\n');
    }
    p.buf
}

fn sprint_v(v: &Val<'_>) -> String {
    let mut p = Printer::default();
    match v {
        Val::Invalid => p.buf.push_str("<invalid reflect.Value>"),
        Val::V(d, t) => p.print_value(d, *t, 'v', 0),
    }
    p.buf
}

/// fmt.Sprintf.
fn sprintf(format: &str, args: &[Val<'_>]) -> String {
    let args: Vec<Val<'_>> = args.iter().map(iface).collect();
    let mut p = Printer::default();
    let b = format.as_bytes();
    let end = b.len();
    let mut arg_num = 0;
    let mut reordered = false;
    let mut i = 0;
    'format: while i < end {
        let mut good_arg_num = true;
        let last = i;
        while i < end && b[i] != b'%' {
            i += 1;
        }
        if i > last {
            p.buf.push_str(&format[last..i]);
        }
        if i >= end {
            break;
        }
        i += 1;
        p.f = Flags::default();
        while i < end {
            let c = b[i];
            match c {
                b'#' => p.f.sharp = true,
                b'0' => p.f.zero = !p.f.minus,
                b'+' => p.f.plus = true,
                b'-' => {
                    p.f.minus = true;
                    p.f.zero = false;
                }
                b' ' => p.f.space = true,
                _ => {
                    if c.is_ascii_lowercase() && arg_num < args.len() {
                        let verb = c as char;
                        if verb == 'v' {
                            p.f.sharp_v = p.f.sharp;
                            p.f.sharp = false;
                            p.f.plus_v = p.f.plus;
                            p.f.plus = false;
                        }
                        if verb == 'w' {
                            p.bad_verb('w', Some(&args[arg_num]));
                        } else {
                            p.print_arg(&args[arg_num], verb);
                        }
                        arg_num += 1;
                        i += 1;
                        continue 'format;
                    }
                    break;
                }
            }
            i += 1;
        }
        let mut after_index;
        (arg_num, i, after_index) = arg_number(
            arg_num,
            format,
            i,
            args.len(),
            &mut reordered,
            &mut good_arg_num,
        );
        if i < end && b[i] == b'*' {
            i += 1;
            let (w, ok, n) = int_from_arg(&args, arg_num);
            arg_num = n;
            if !ok {
                p.buf.push_str("%!(BADWIDTH)");
                p.f.wid = None;
            } else if w < 0 {
                p.f.wid = Some(w.unsigned_abs() as usize);
                p.f.minus = true;
                p.f.zero = false;
            } else {
                p.f.wid = Some(w as usize);
            }
            after_index = false;
        } else {
            let (w, ok, ni) = parse_num(b, i, end);
            i = ni;
            p.f.wid = ok.then_some(w);
            if after_index && ok {
                good_arg_num = false;
            }
        }
        if i + 1 < end && b[i] == b'.' {
            i += 1;
            if after_index {
                good_arg_num = false;
            }
            (arg_num, i, after_index) = arg_number(
                arg_num,
                format,
                i,
                args.len(),
                &mut reordered,
                &mut good_arg_num,
            );
            if i < end && b[i] == b'*' {
                i += 1;
                let (pr, ok, n) = int_from_arg(&args, arg_num);
                arg_num = n;
                if pr < 0 || !ok {
                    p.f.prec = None;
                    if !ok {
                        p.buf.push_str("%!(BADPREC)");
                    }
                } else {
                    p.f.prec = Some(pr as usize);
                }
                after_index = false;
            } else {
                let (pr, ok, ni) = parse_num(b, i, end);
                i = ni;
                p.f.prec = Some(if ok { pr } else { 0 });
            }
        }
        if !after_index {
            (arg_num, i, _) = arg_number(
                arg_num,
                format,
                i,
                args.len(),
                &mut reordered,
                &mut good_arg_num,
            );
        }
        if i >= end {
            p.buf.push_str("%!(NOVERB)");
            break;
        }
        let verb = format[i..].chars().next().unwrap_or('?');
        i += verb.len_utf8();
        if verb == '%' {
            p.buf.push('%');
        } else if !good_arg_num {
            let _ = write!(p.buf, "%!{verb}(BADINDEX)");
        } else if arg_num >= args.len() {
            let _ = write!(p.buf, "%!{verb}(MISSING)");
        } else {
            if verb == 'v' {
                p.f.sharp_v = p.f.sharp;
                p.f.sharp = false;
                p.f.plus_v = p.f.plus;
                p.f.plus = false;
            }
            if verb == 'w' {
                p.bad_verb('w', Some(&args[arg_num]));
            } else {
                p.print_arg(&args[arg_num], verb);
            }
            arg_num += 1;
        }
    }
    if !reordered && arg_num < args.len() {
        p.f = Flags::default();
        p.buf.push_str("%!(EXTRA ");
        for (i, a) in args[arg_num..].iter().enumerate() {
            if i > 0 {
                p.buf.push_str(", ");
            }
            match a {
                Val::Invalid => p.buf.push_str("<nil>"),
                a => {
                    p.buf.push_str(&a.type_name());
                    p.buf.push('=');
                    p.print_arg(a, 'v');
                }
            }
        }
        p.buf.push(')');
    }
    p.buf
}

fn parse_num(b: &[u8], start: usize, end: usize) -> (usize, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let mut num = 0usize;
    let mut is_num = false;
    let mut i = start;
    while i < end && b[i].is_ascii_digit() {
        if num > 1_000_000 {
            return (0, false, end);
        }
        num = num * 10 + usize::from(b[i] - b'0');
        is_num = true;
        i += 1;
    }
    (num, is_num, i)
}

fn arg_number(
    arg_num: usize,
    format: &str,
    i: usize,
    num_args: usize,
    reordered: &mut bool,
    good: &mut bool,
) -> (usize, usize, bool) {
    let b = format.as_bytes();
    if b.len() <= i || b[i] != b'[' {
        return (arg_num, i, false);
    }
    *reordered = true;
    let rest = &b[i..];
    let (index, wid, ok) = 'parse: {
        if rest.len() < 3 {
            break 'parse (0, 1, false);
        }
        for j in 1..rest.len() {
            if rest[j] == b']' {
                let (w, ok, ni) = parse_num(rest, 1, j);
                if !ok || ni != j {
                    break 'parse (0, j + 1, false);
                }
                break 'parse (w as i64 - 1, j + 1, true);
            }
        }
        (0, 1, false)
    };
    if ok && index >= 0 && (index as usize) < num_args {
        return (index as usize, i + wid, true);
    }
    *good = false;
    (arg_num, i + wid, ok)
}

fn int_from_arg(args: &[Val<'_>], arg_num: usize) -> (i64, bool, usize) {
    if arg_num >= args.len() {
        return (0, false, arg_num);
    }
    let a = &args[arg_num];
    let (n, ok) = match (a, a.kind()) {
        (Val::V(d, _), Kind::Int) => (as_i64(d), true),
        (Val::V(d, _), Kind::Uint) => {
            let u = as_u64(d);
            (u as i64, i64::try_from(u).is_ok())
        }
        _ => (0, false),
    };
    if !(-1_000_000..=1_000_000).contains(&n) {
        return (0, false, arg_num + 1);
    }
    (n, ok, arg_num + 1)
}

/// A `String()` method of the value's type, if any.
fn stringer(v: &Value, t: Ty) -> Option<String> {
    match t {
        Ty::Go(GoType::Time) => Some(time_string(&str_of(v))),
        Ty::Go(GoType::Duration) => Some(duration_string(as_i64(v))),
        Ty::Raw if v.is_number() => Some(str_of(v).into_owned()),
        Ty::Go(GoType::Ptr(GoType::Struct(st))) if !v.is_null() => st.stringer.map(|f| f(v)),
        _ => None,
    }
}

impl Printer {
    fn print_arg(&mut self, a: &Val<'_>, verb: char) {
        let a = iface(a);
        let Val::V(d, t) = &a else {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, None),
            }
            return;
        };
        match verb {
            'T' => {
                let name = type_name(d, *t);
                self.fmt_s(&name);
                return;
            }
            'p' => {
                if a.kind() == Kind::Ptr {
                    let u = if d.is_null() { 0 } else { FAKE_ADDRESS };
                    self.fmt_0x64(u, !self.f.sharp);
                } else {
                    self.bad_verb('p', Some(&a));
                }
                return;
            }
            _ => {}
        }
        if self.handle_methods(d, *t, verb) {
            return;
        }
        self.print_value(d, *t, verb, 0);
    }

    fn handle_methods(&mut self, v: &Value, t: Ty, verb: char) -> bool {
        if self.erroring || self.f.sharp_v {
            return false;
        }
        if matches!(verb, 'v' | 's' | 'x' | 'X' | 'q')
            && let Some(s) = stringer(v, t)
        {
            self.fmt_string(&s, verb);
            return true;
        }
        false
    }

    fn bad_verb(&mut self, verb: char, v: Option<&Val<'_>>) {
        self.erroring = true;
        let _ = write!(self.buf, "%!{verb}(");
        match v {
            Some(Val::V(d, t)) => {
                self.buf.push_str(&type_name(d, *t));
                self.buf.push('=');
                self.print_value(d, *t, 'v', 0);
            }
            _ => self.buf.push_str("<nil>"),
        }
        self.buf.push(')');
        self.erroring = false;
    }

    fn print_value(&mut self, v: &Value, t: Ty, verb: char, depth: usize) {
        if depth > 0 && self.handle_methods(v, t, verb) {
            return;
        }
        let bad = |p: &mut Printer| p.bad_verb(verb, Some(&Val::V(Data::Ref(v), t)));
        match kind_of(v, t) {
            Kind::Invalid => {
                if depth == 0 {
                    self.buf.push_str("<invalid reflect.Value>");
                } else if verb == 'v' {
                    self.buf.push_str("<nil>");
                } else {
                    self.bad_verb(verb, None);
                }
            }
            Kind::Bool => {
                if !self.fmt_bool(v.as_bool().unwrap_or(false), verb) {
                    bad(self);
                }
            }
            Kind::Int => {
                if !self.fmt_integer_verb(as_i64(v) as u64, true, verb) {
                    bad(self);
                }
            }
            Kind::Uint => {
                if !self.fmt_integer_verb(as_u64(v), false, verb) {
                    bad(self);
                }
            }
            Kind::Float => {
                if !self.fmt_float_verb(as_f64(v), verb) {
                    bad(self);
                }
            }
            Kind::String => {
                if !self.fmt_string(&str_of(v), verb) {
                    bad(self);
                }
            }
            Kind::Map => {
                if self.f.sharp_v {
                    self.buf.push_str(&type_name(v, t));
                    if v.is_null() {
                        self.buf.push_str("(nil)");
                        return;
                    }
                    self.buf.push('{');
                } else {
                    self.buf.push_str("map[");
                }
                let data = Data::Ref(v);
                let kt = key_ty(t);
                for (i, (k, e)) in entries(&data, t).iter().enumerate() {
                    if i > 0 {
                        self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
                    }
                    self.print_value(&Value::String(k.clone()), kt, verb, depth + 1);
                    self.buf.push(':');
                    if let Val::V(ed, et) = e {
                        self.print_value(ed, *et, verb, depth + 1);
                    }
                }
                self.buf.push(if self.f.sharp_v { '}' } else { ']' });
            }
            Kind::Struct => {
                if self.f.sharp_v {
                    self.buf.push_str(&type_name(v, t));
                }
                self.buf.push('{');
                match t {
                    Ty::Go(GoType::Struct(st)) => {
                        let data = Data::Ref(v);
                        for (i, f) in st.fields.iter().enumerate() {
                            if i > 0 {
                                self.buf.push_str(if self.f.sharp_v { ", " } else { " " });
                            }
                            if self.f.plus_v || self.f.sharp_v {
                                self.buf.push_str(f.name);
                                self.buf.push(':');
                            }
                            if let Val::V(fd, ft) = field_value(&data, f) {
                                self.print_value(&fd, ft, verb, depth + 1);
                            }
                        }
                    }
                    _ => {
                        // time.Time's fields are unexported; print what String() gives
                        self.buf.push_str(&time_string(&str_of(v)));
                    }
                }
                self.buf.push('}');
            }
            Kind::Interface => {
                if v.is_null() {
                    if self.f.sharp_v {
                        self.buf.push_str(&type_name(v, t));
                        self.buf.push_str("(nil)");
                    } else {
                        self.buf.push_str("<nil>");
                    }
                } else {
                    self.print_value(v, Ty::Raw, verb, depth + 1);
                }
            }
            k @ (Kind::Array | Kind::Slice) => {
                let data = Data::Ref(v);
                let elems = items(&data, t);
                if self.f.sharp_v {
                    self.buf.push_str(&type_name(v, t));
                    if k == Kind::Slice && v.is_null() {
                        self.buf.push_str("(nil)");
                        return;
                    }
                    self.buf.push('{');
                    for (i, e) in elems.iter().enumerate() {
                        if i > 0 {
                            self.buf.push_str(", ");
                        }
                        if let Val::V(ed, et) = e {
                            self.print_value(ed, *et, verb, depth + 1);
                        }
                    }
                    self.buf.push('}');
                } else {
                    self.buf.push('[');
                    for (i, e) in elems.iter().enumerate() {
                        if i > 0 {
                            self.buf.push(' ');
                        }
                        if let Val::V(ed, et) = e {
                            self.print_value(ed, *et, verb, depth + 1);
                        }
                    }
                    self.buf.push(']');
                }
            }
            Kind::Ptr => {
                if let Ty::Go(GoType::Ptr(e)) = t
                    && depth == 0
                    && !v.is_null()
                    && matches!(
                        kind_of(v, Ty::Go(e)),
                        Kind::Array | Kind::Slice | Kind::Struct | Kind::Map
                    )
                {
                    self.buf.push('&');
                    self.print_value(v, Ty::Go(e), verb, depth + 1);
                    return;
                }
                let u = if v.is_null() { 0 } else { FAKE_ADDRESS };
                match verb {
                    'v' => {
                        if self.f.sharp_v {
                            let _ = write!(self.buf, "({})(", type_name(v, t));
                            if u == 0 {
                                self.buf.push_str("nil");
                            } else {
                                self.fmt_0x64(u, true);
                            }
                            self.buf.push(')');
                        } else if u == 0 {
                            self.pad("<nil>");
                        } else {
                            self.fmt_0x64(u, !self.f.sharp);
                        }
                    }
                    'b' | 'o' | 'd' | 'x' | 'X' => {
                        self.fmt_integer_verb(u, false, verb);
                    }
                    _ => bad(self),
                }
            }
        }
    }

    fn write_padding(&mut self, n: usize) {
        let c = if self.f.zero && !self.f.minus {
            '0'
        } else {
            ' '
        };
        self.buf.extend(std::iter::repeat_n(c, n));
    }

    fn pad(&mut self, s: &str) {
        let Some(w) = self.f.wid else {
            self.buf.push_str(s);
            return;
        };
        let n = s.chars().count();
        if n >= w {
            self.buf.push_str(s);
            return;
        }
        if self.f.minus {
            self.buf.push_str(s);
            self.write_padding(w - n);
        } else {
            self.write_padding(w - n);
            self.buf.push_str(s);
        }
    }

    fn fmt_bool(&mut self, b: bool, verb: char) -> bool {
        match verb {
            't' | 'v' => {
                self.pad(if b { "true" } else { "false" });
                true
            }
            _ => false,
        }
    }

    fn fmt_0x64(&mut self, u: u64, leading: bool) {
        let sharp = self.f.sharp;
        self.f.sharp = leading;
        self.fmt_integer(u, 16, false, 'v', LDIGITS);
        self.f.sharp = sharp;
    }

    fn fmt_integer_verb(&mut self, u: u64, signed: bool, verb: char) -> bool {
        match verb {
            'v' => {
                if self.f.sharp_v && !signed {
                    self.fmt_0x64(u, true);
                } else {
                    self.fmt_integer(u, 10, signed, verb, LDIGITS);
                }
            }
            'd' => self.fmt_integer(u, 10, signed, verb, LDIGITS),
            'b' => self.fmt_integer(u, 2, signed, verb, LDIGITS),
            'o' | 'O' => self.fmt_integer(u, 8, signed, verb, LDIGITS),
            'x' => self.fmt_integer(u, 16, signed, verb, LDIGITS),
            'X' => self.fmt_integer(u, 16, signed, verb, UDIGITS),
            'c' => {
                let c = char::from_u32(u as u32)
                    .filter(|_| u <= 0x10FFFF)
                    .unwrap_or('\u{FFFD}');
                self.pad(&c.to_string());
            }
            'q' => {
                let c = char::from_u32(u as u32)
                    .filter(|_| u <= 0x10FFFF)
                    .unwrap_or('\u{FFFD}');
                let q = quote_with(&c.to_string(), '\'', self.f.plus);
                self.pad(&q);
            }
            'U' => {
                let mut s = format!("{u:04X}");
                if let Some(p) = self.f.prec
                    && s.len() < p
                {
                    s = format!("{}{s}", "0".repeat(p - s.len()));
                }
                let mut s = format!("U+{s}");
                if self.f.sharp
                    && let Some(c) = char::from_u32(u as u32)
                    && is_print(c)
                {
                    let _ = write!(s, " '{c}'");
                }
                let zero = self.f.zero;
                self.f.zero = false;
                self.pad(&s);
                self.f.zero = zero;
            }
            _ => return false,
        }
        true
    }

    fn fmt_integer(&mut self, u: u64, base: u64, signed: bool, verb: char, digits: &[u8]) {
        let negative = signed && (u as i64) < 0;
        let mut u = if negative {
            (u as i64).unsigned_abs()
        } else {
            u
        };
        let mut prec = 0;
        if let Some(p) = self.f.prec {
            prec = p;
            if p == 0 && u == 0 {
                let zero = self.f.zero;
                self.f.zero = false;
                self.write_padding(self.f.wid.unwrap_or(0));
                self.f.zero = zero;
                return;
            }
        } else if self.f.zero
            && !self.f.minus
            && let Some(w) = self.f.wid
        {
            prec = w;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let mut rev: Vec<u8> = Vec::new();
        loop {
            rev.push(digits[(u % base) as usize]);
            u /= base;
            if u == 0 {
                break;
            }
        }
        while rev.len() < prec {
            rev.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => rev.extend_from_slice(b"b0"),
                8 if rev.last() != Some(&b'0') => rev.push(b'0'),
                16 => {
                    rev.push(digits[16]);
                    rev.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            rev.extend_from_slice(b"o0");
        }
        if negative {
            rev.push(b'-');
        } else if self.f.plus {
            rev.push(b'+');
        } else if self.f.space {
            rev.push(b' ');
        }
        rev.reverse();
        let s = String::from_utf8_lossy(&rev).into_owned();
        let zero = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = zero;
    }

    fn fmt_float_verb(&mut self, v: f64, verb: char) -> bool {
        match verb {
            'v' => self.fmt_float(v, 'g', -1),
            'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float(v, verb, -1),
            'f' | 'e' | 'E' | 'F' => self.fmt_float(v, verb, 6),
            _ => return false,
        }
        true
    }

    fn fmt_float(&mut self, v: f64, verb: char, prec: i32) {
        let prec = self.f.prec.map_or(prec, |p| p as i32);
        let fmt = match verb {
            'F' => 'f',
            'b' | 'x' => 'g',
            'X' => 'G',
            c => c,
        };
        let num = format_float(v, fmt, prec);
        let (mut sign, body) = match num.strip_prefix('-') {
            Some(b) => ('-', b.to_string()),
            None => ('+', num.trim_start_matches('+').to_string()),
        };
        if self.f.space && sign == '+' && !self.f.plus {
            sign = ' ';
        }
        if body.starts_with('I') || body.starts_with('N') {
            let zero = self.f.zero;
            self.f.zero = false;
            if body.starts_with('N') && !self.f.space && !self.f.plus {
                self.pad(&body);
            } else {
                self.pad(&format!("{sign}{body}"));
            }
            self.f.zero = zero;
            return;
        }
        if self.f.plus || sign != '+' {
            let len = body.chars().count() + 1;
            if self.f.zero
                && !self.f.minus
                && let Some(w) = self.f.wid
                && w > len
            {
                self.buf.push(sign);
                self.write_padding(w - len);
                self.buf.push_str(&body);
                return;
            }
            self.pad(&format!("{sign}{body}"));
            return;
        }
        self.pad(&body);
    }

    fn fmt_string(&mut self, s: &str, verb: char) -> bool {
        match verb {
            'v' => {
                if self.f.sharp_v {
                    self.fmt_q(s);
                } else {
                    self.fmt_s(s);
                }
            }
            's' => self.fmt_s(s),
            'x' => self.fmt_sx(s, LDIGITS),
            'X' => self.fmt_sx(s, UDIGITS),
            'q' => self.fmt_q(s),
            _ => return false,
        }
        true
    }

    fn truncated<'s>(&self, s: &'s str) -> &'s str {
        match self.f.prec {
            Some(p) => match s.char_indices().nth(p) {
                Some((i, _)) => &s[..i],
                None => s,
            },
            None => s,
        }
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncated(s).to_string();
        self.pad(&s);
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncated(s).to_string();
        let q = if self.f.sharp && can_backquote(&s) {
            format!("`{s}`")
        } else {
            quote_with(&s, '"', self.f.plus)
        };
        self.pad(&q);
    }

    fn fmt_sx(&mut self, s: &str, digits: &[u8]) {
        let b = s.as_bytes();
        let mut length = b.len();
        if let Some(p) = self.f.prec
            && p < length
        {
            length = p;
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if let Some(w) = self.f.wid {
                self.write_padding(w);
            }
            return;
        }
        if let Some(w) = self.f.wid
            && w > width
            && !self.f.minus
        {
            self.write_padding(w - width);
        }
        if self.f.sharp {
            self.buf.push('0');
            self.buf.push(digits[16] as char);
        }
        for (i, &c) in b[..length].iter().enumerate() {
            if self.f.space && i > 0 {
                self.buf.push(' ');
                if self.f.sharp {
                    self.buf.push('0');
                    self.buf.push(digits[16] as char);
                }
            }
            self.buf.push(digits[usize::from(c >> 4)] as char);
            self.buf.push(digits[usize::from(c & 0xF)] as char);
        }
        if let Some(w) = self.f.wid
            && w > width
            && self.f.minus
        {
            self.write_padding(w - width);
        }
    }
}

/// Decimal digits of `abs` (no trailing zeros) and the decimal point position, rounded to
/// `n` significant digits, or shortest (`n` = None) as strconv does.
fn float_digits(abs: f64, n: Option<usize>) -> (Vec<u8>, i32) {
    if abs == 0.0 {
        return (Vec::new(), 0);
    }
    let s = match n {
        Some(n) => format!("{:.*e}", n.saturating_sub(1), abs),
        None => format!("{abs:e}"),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    if digits.is_empty() {
        return (Vec::new(), 0);
    }
    (digits, exp + 1)
}

fn fmt_e(out: &mut String, digits: &[u8], dp: i32, prec: i32, ch: char) {
    let nd = digits.len() as i32;
    out.push(digits.first().map_or('0', |&d| d as char));
    if prec > 0 {
        out.push('.');
        let m = nd.min(prec + 1);
        let mut i = 1;
        while i < m {
            out.push(digits[i as usize] as char);
            i += 1;
        }
        while i <= prec {
            out.push('0');
            i += 1;
        }
    }
    out.push(ch);
    let exp = if nd == 0 { 0 } else { dp - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    let exp = exp.unsigned_abs();
    if exp < 10 {
        let _ = write!(out, "0{exp}");
    } else {
        let _ = write!(out, "{exp}");
    }
}

fn fmt_f(out: &mut String, digits: &[u8], dp: i32, prec: i32) {
    let nd = digits.len() as i32;
    if dp > 0 {
        let m = nd.min(dp);
        for &d in &digits[..m as usize] {
            out.push(d as char);
        }
        for _ in m..dp {
            out.push('0');
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 0..prec {
            let j = dp + i;
            out.push(if (0..nd).contains(&j) {
                digits[j as usize] as char
            } else {
                '0'
            });
        }
    }
}

/// strconv.FormatFloat(v, fmt, prec, 64) for fmt in e, E, f, g, G.
fn format_float(v: f64, fmt: char, prec: i32) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    let abs = v.abs();
    match fmt {
        'e' | 'E' => {
            let (digits, dp) = if prec < 0 {
                float_digits(abs, None)
            } else {
                float_digits(abs, Some(prec as usize + 1))
            };
            let p = if prec < 0 {
                (digits.len() as i32 - 1).max(0)
            } else {
                prec
            };
            fmt_e(&mut out, &digits, dp, p, fmt);
        }
        'f' => {
            if prec < 0 {
                let (digits, dp) = float_digits(abs, None);
                fmt_f(&mut out, &digits, dp, (digits.len() as i32 - dp).max(0));
            } else {
                let _ = write!(out, "{:.*}", prec as usize, abs);
            }
        }
        _ => {
            let shortest = prec < 0;
            let (digits, dp, mut p) = if shortest {
                let (d, dp) = float_digits(abs, None);
                let n = d.len() as i32;
                (d, dp, n)
            } else {
                let p = if prec == 0 { 1 } else { prec };
                let (d, dp) = float_digits(abs, Some(p as usize));
                (d, dp, p)
            };
            let nd = digits.len() as i32;
            let mut eprec = p;
            if eprec > nd && nd >= dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = dp - 1;
            let ch = if fmt == 'G' { 'E' } else { 'e' };
            if exp < -4 || exp >= eprec {
                if p > nd {
                    p = nd;
                }
                fmt_e(&mut out, &digits, dp, p - 1, ch);
            } else {
                if p > dp {
                    p = nd;
                }
                fmt_f(&mut out, &digits, dp, (p - dp).max(0));
            }
        }
    }
    out
}

/// encoding/json's float64 text.
fn json_float(v: f64) -> String {
    let abs = v.abs();
    let e = abs != 0.0 && !(1e-6..1e21).contains(&abs);
    let mut s = format_float(v, if e { 'e' } else { 'f' }, -1);
    if e {
        let b = s.as_bytes();
        let n = b.len();
        if n >= 4 && b[n - 4] == b'e' && b[n - 3] == b'-' && b[n - 2] == b'0' {
            s.remove(n - 2);
        }
    }
    s
}

/// unicode.IsPrint, approximated without Unicode tables: letters, marks, numbers,
/// punctuation, symbols and the ASCII space, i.e. not controls, other spaces, format
/// characters, private use or noncharacters.
fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    let format = matches!(u,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
        | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F);
    let private = matches!(u, 0xE000..=0xF8FF | 0xF0000..=0x10FFFF);
    let nonchar = (u & 0xFFFE) == 0xFFFE || (0xFDD0..=0xFDEF).contains(&u);
    !(format || private || nonchar)
}

/// strconv.Quote (`ascii`: QuoteToASCII) with `quote` as the quote character.
fn quote_with(s: &str, quote: char, ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        if c == quote || c == '\\' {
            out.push('\\');
            out.push(c);
            continue;
        }
        if ascii {
            if c.is_ascii() && is_print(c) {
                out.push(c);
                continue;
            }
        } else if is_print(c) {
            out.push(c);
            continue;
        }
        match c {
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push(quote);
    out
}

/// strconv.Quote.
fn go_quote(s: &str) -> String {
    quote_with(s, '"', false)
}

fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| c != '`' && c != '\u{FEFF}' && (c == '\t' || !c.is_control()))
}

// ---------------------------------------------------------------------------------------
// JSON (encoding/json with SetEscapeHTML(false))
// ---------------------------------------------------------------------------------------

fn json_string(out: &mut String, s: &str, html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            '<' | '>' | '&' if html => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// JSON of decoded (`Raw`) or engine-made (`Dyn`) data: map keys sorted, as Go does.
fn json_raw(out: &mut String, v: &Value, html: bool) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => {
                let _ = write!(out, "{i}");
            }
            (_, Some(u)) => {
                let _ = write!(out, "{u}");
            }
            _ => out.push_str(&json_float(n.as_f64().unwrap_or(0.0))),
        },
        Value::String(s) => json_string(out, s, html),
        Value::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_raw(out, e, html);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(out, k, html);
                out.push(':');
                json_raw(out, &m[k.as_str()], html);
            }
            out.push('}');
        }
    }
}

fn json_empty(v: &Value, g: &GoType) -> bool {
    match g {
        GoType::Bool(_) => !v.as_bool().unwrap_or(false),
        GoType::Int(_) | GoType::Uint(_) | GoType::Duration => as_i64(v) == 0 && as_u64(v) == 0,
        GoType::Float(_) => as_f64(v) == 0.0,
        GoType::String(_) => str_of(v).is_empty(),
        GoType::Slice(..) | GoType::Map(..) => len_of(v, Kind::Slice) == 0,
        GoType::Array(_, n, _) => *n == 0,
        GoType::Ptr(_) | GoType::Interface | GoType::Opaque(_) => v.is_null(),
        GoType::Struct(_) | GoType::Time => false,
    }
}

fn json_fields(out: &mut String, v: &Value, st: &'static StructType, first: &mut bool, html: bool) {
    let data = Data::Ref(v);
    for f in st.fields {
        if f.embedded {
            if let Some(es) = struct_of(f.ty)
                && !v.is_null()
            {
                json_fields(out, v, es, first, html);
            }
            continue;
        }
        let Val::V(fv, _) = field_value(&data, f) else {
            continue;
        };
        if f.omitempty && json_empty(&fv, f.ty) {
            continue;
        }
        if !*first {
            out.push(',');
        }
        *first = false;
        json_string(out, f.json, html);
        out.push(':');
        json_encode(out, &fv, Ty::Go(f.ty), html);
    }
}

/// encoding/json of a value of a Go type.
fn json_encode(out: &mut String, v: &Value, t: Ty, html: bool) {
    let Ty::Go(g) = t else {
        return json_raw(out, v, html);
    };
    match g {
        GoType::Interface | GoType::Opaque(_) => json_raw(out, v, html),
        GoType::Bool(_) => out.push_str(if v.as_bool().unwrap_or(false) {
            "true"
        } else {
            "false"
        }),
        GoType::Int(_) | GoType::Duration => {
            let _ = write!(out, "{}", as_i64(v));
        }
        GoType::Uint(_) => {
            let _ = write!(out, "{}", as_u64(v));
        }
        GoType::Float(_) => out.push_str(&json_float(as_f64(v))),
        GoType::String(_) | GoType::Time => json_string(out, &str_of(v), html),
        GoType::Slice(..) | GoType::Array(..) => {
            if v.is_null() && matches!(g, GoType::Slice(..)) {
                out.push_str("null");
                return;
            }
            out.push('[');
            for (i, e) in items(&Data::Ref(v), t).iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if let Val::V(ed, et) = e {
                    json_encode(out, ed, *et, html);
                }
            }
            out.push(']');
        }
        GoType::Map(..) => {
            if v.is_null() {
                out.push_str("null");
                return;
            }
            out.push('{');
            for (i, (k, e)) in entries(&Data::Ref(v), t).iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(out, k, html);
                out.push(':');
                if let Val::V(ed, et) = e {
                    json_encode(out, ed, *et, html);
                }
            }
            out.push('}');
        }
        GoType::Ptr(e) => {
            if v.is_null() {
                out.push_str("null");
            } else {
                json_encode(out, v, Ty::Go(e), html);
            }
        }
        GoType::Struct(st) => {
            if let Some(m) = st.marshal {
                out.push_str(&m(v));
                return;
            }
            out.push('{');
            let mut first = true;
            json_fields(out, v, st, &mut first, html);
            out.push('}');
        }
    }
}

// ---------------------------------------------------------------------------------------
// time.Time and time.Duration
// ---------------------------------------------------------------------------------------

fn civil_to_days(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// time.Time.String() of RFC 3339 text: `2024-01-02 03:04:05.5 +0000 UTC`.
fn time_string(text: &str) -> String {
    let parsed = (|| {
        let b = text.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> { text.get(r)?.parse().ok() };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let mut rest = &text[19..];
        let mut frac = "";
        if let Some(f) = rest.strip_prefix('.') {
            let n = f.bytes().take_while(u8::is_ascii_digit).count();
            frac = &f[..n];
            rest = &f[n..];
        }
        let offset = match rest {
            "Z" => 0,
            o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) => {
                let sign = if o.starts_with('-') { -1 } else { 1 };
                sign * (o[1..3].parse::<i64>().ok()? * 60 + o[4..6].parse::<i64>().ok()?)
            }
            _ => return None,
        };
        Some((
            y,
            mo,
            d,
            h,
            mi,
            s,
            frac.trim_end_matches('0').to_string(),
            offset,
        ))
    })();
    let Some((y, mo, d, h, mi, s, frac, offset)) = parsed else {
        return text.to_string();
    };
    // the wall clock stays as written; only a zero offset is named UTC
    let days = civil_to_days(y, mo, d);
    let (y, mo, d) = crate::display::civil_from_days(days);
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    let zone = if offset == 0 {
        "+0000 UTC".to_string()
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let o = offset.abs();
        let z = format!("{sign}{:02}{:02}", o / 60, o % 60);
        format!("{z} {z}")
    };
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}{frac} {zone}")
}

/// time.Duration.String().
fn duration_string(d: i64) -> String {
    let neg = d < 0;
    let mut u = d.unsigned_abs();
    let mut out = String::new();
    let frac = |u: u64, prec: u32| -> (String, u64) {
        let mut digits = String::new();
        let mut v = u;
        let mut print = false;
        for _ in 0..prec {
            let digit = v % 10;
            print = print || digit != 0;
            if print {
                digits.insert(0, char::from(b'0' + digit as u8));
            }
            v /= 10;
        }
        if print {
            digits.insert(0, '.');
        }
        (digits, v)
    };
    if u < 1_000_000_000 {
        let (unit, prec) = match u {
            0 => return "0s".into(),
            1..=999 => ("ns", 0),
            1000..=999_999 => ("µs", 3),
            _ => ("ms", 6),
        };
        let (f, v) = frac(u, prec);
        out = format!("{v}{f}{unit}");
    } else {
        let (f, v) = frac(u, 9);
        u = v;
        let secs = format!("{}{f}s", u % 60);
        u /= 60;
        if u > 0 {
            let mins = format!("{}m", u % 60);
            u /= 60;
            if u > 0 {
                out = format!("{u}h");
            }
            out.push_str(&mins);
        }
        out.push_str(&secs);
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(text: &str, data: &Value) -> Result<String, String> {
        Template::parse(text)?.execute(data, &Options::new())
    }

    fn ok(text: &str, data: &Value) -> String {
        run(text, data).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn typed(text: &str, data: &Value) -> String {
        Template::parse(text)
            .and_then(|t| t.execute(data, &Options::typed(&docker::CONTAINER)))
            .unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn container() -> Value {
        json!({
            "Id": "0123456789abcdef", "Name": "/web", "Created": "2024-01-02T03:04:05.5Z",
            "Path": "sleep", "Args": ["1"], "RestartCount": 0,
            "State": {"Status": "running", "Running": true, "Pid": 42, "ExitCode": 0,
                      "StartedAt": "2024-01-02T03:04:06Z", "FinishedAt": "0001-01-01T00:00:00Z"},
            "HostConfig": {"Binds": null, "Dns": [], "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
                           "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
                           "PidsLimit": null, "Memory": 0, "CpuShares": 512,
                           "Ulimits": [{"Name": "nofile", "Hard": 2048, "Soft": 1024}]},
            "Config": {"Hostname": "0123456789ab", "Env": ["A=1", "B=<x&y>"], "Cmd": ["sleep", "1"],
                       "Entrypoint": null, "Volumes": null, "Image": "busybox",
                       "Labels": {"k": "v", "a": "1"}, "ExposedPorts": {"80/tcp": {}},
                       "Healthcheck": {"Test": ["CMD", "true"], "Interval": 90_000_000_000_i64}},
            "Mounts": [],
            "NetworkSettings": {"Networks": {"bridge": {"IPAMConfig": null, "IPAddress": "172.17.0.2"}}}
        })
    }

    #[test]
    fn parse_errors_are_go_texts() {
        for (text, want) in [
            ("{{.Name", "template: :1: unclosed action"),
            ("{{", "template: :1: unclosed action"),
            ("a\n{{.X", "template: :2: unclosed action"),
            (
                "{{.Name\n\n.Driver",
                "template: :3: unclosed action started at :1",
            ),
            ("{{end}}", "template: :1: unexpected {{end}}"),
            ("{{else}}", "template: :1: unexpected {{else}}"),
            ("{{if}}", "template: :1: missing value for if"),
            ("{{if .X}}", "template: :1: unexpected EOF"),
            (
                "{{range .X}}{{else}}{{else}}{{end}}",
                "template: :1: expected end; found {{else}}",
            ),
            ("{{foo}}", "template: :1: function \"foo\" not defined"),
            (
                "{{.X | 3}}",
                "template: :1: non executable command in pipeline stage 2",
            ),
            ("{{$x}}", "template: :1: undefined variable \"$x\""),
            ("{{\"abc}}", "template: :1: unterminated quoted string"),
            ("{{`abc}}", "template: :1: unterminated raw quoted string"),
            ("{{.X)}}", "template: :1: unexpected right paren"),
            ("{{(.X}}", "template: :1: unclosed left paren"),
            ("{{/* x }}", "template: :1: unclosed comment"),
            (
                "{{/* x */ .X}}",
                "template: :1: comment ends before closing delimiter",
            ),
            ("{{break}}", "template: :1: {{break}} outside {{range}}"),
            (
                "{{range .}}{{break 1}}{{end}}",
                "template: :1: unexpected \"1\" in {{break}}",
            ),
            ("{{1.X}}", "template: :1: bad number syntax: \"1.X\""),
            (
                "{{\"a\".X}}",
                "template: :1: unexpected . after term \"\\\"a\\\"\"",
            ),
            ("{{.Name}", "template: :1: bad character U+007D '}'"),
            ("{{.Name-1}}", "template: :1: bad character U+002D '-'"),
            (
                "{{range $a, $b, $c := .}}{{end}}",
                "template: :1: too many declarations in range",
            ),
            (
                "{{with $x, $y := 1}}{{end}}",
                "template: :1: too many declarations in with",
            ),
            (
                "{{99999999999999999999}}",
                "template: :1: integer overflow: \"99999999999999999999\"",
            ),
            ("{{\"\\q\"}}", "template: :1: invalid syntax"),
            (
                "{{define \"a\"}}x{{end}}{{define \"a\"}}y{{end}}",
                "template: :1: template: multiple definition of template \"a\"",
            ),
        ] {
            assert_eq!(
                Template::parse(text).err().as_deref(),
                Some(want),
                "{text:?}"
            );
        }
    }

    #[test]
    fn text_trim_markers_and_comments() {
        let d = json!({"A": "x"});
        assert_eq!(ok("a  {{- .A -}}  b", &d), "axb");
        assert_eq!(ok("a {{- /* c */ -}} b", &d), "ab");
        assert_eq!(ok("a\n  {{- .A}}\n  b {{.A -}}\n\n c", &d), "ax\n  b xc");
        assert_eq!(ok("{{-3}} {{3 -}} x", &d), "-3 3x");
        assert_eq!(ok("{{\n.A\n}}", &d), "x");
        assert_eq!(ok("plain text", &d), "plain text");
        assert_eq!(ok("", &d), "");
    }

    #[test]
    fn literals() {
        let d = json!({});
        assert_eq!(
            ok(
                "{{1e6}} {{1.5}} {{0x1F}} {{'a'}} {{-3}} {{1e21}} {{100.0}}",
                &d
            ),
            "1e+06 1.5 31 97 -3 1e+21 100"
        );
        assert_eq!(
            ok(
                "{{123456789.0}} {{0.0001}} {{0b101}} {{0o17}} {{017}} {{1_000}}",
                &d
            ),
            "1.23456789e+08 0.0001 5 15 15 1000"
        );
        assert_eq!(
            ok(
                r#"{{"\u00e9\x41\101\t|"}} {{`a\nb`}} {{'\n'}} {{true}} {{false}}"#,
                &d
            ),
            "éAA\t| a\\nb 10 true false"
        );
        assert_eq!(
            run("{{9223372036854775808}}", &d).unwrap_err(),
            "template: :1:2: executing \"\" at <9223372036854775808>: 9223372036854775808 overflows int"
        );
    }

    #[test]
    fn missing_keys_and_nil() {
        let d = json!({"A": null, "M": {"k": "v"}});
        assert_eq!(
            ok("{{.Nope}} {{.A}} {{.M.nope}} {{print .Nope .A}}", &d),
            "<no value> <no value> <no value> <nil> <nil>"
        );
        assert_eq!(
            ok("{{index .M \"nope\"}} {{.M}} {{len .M}}", &d),
            "<no value> map[k:v] 1"
        );
        let t = Template::parse("{{.M.nope}}").unwrap();
        let zero = Options::new().missing_key(MissingKey::Zero);
        assert_eq!(t.execute(&d, &zero).unwrap(), "<no value>");
        assert_eq!(
            t.execute(&d, &Options::raw()).unwrap_err(),
            "template: :1:4: executing \"\" at <.M.nope>: map has no entry for key \"nope\""
        );
        assert_eq!(
            run("{{.A.B}}", &d).unwrap_err(),
            "template: :1:4: executing \"\" at <.A.B>: nil pointer evaluating interface {}.B"
        );
        assert_eq!(
            run("x\n{{.M.k.z}}", &d).unwrap_err(),
            "template: :2:4: executing \"\" at <.M.k.z>: can't evaluate field z in type interface {}"
        );
    }

    #[test]
    fn maps_print_and_range_in_sorted_key_order() {
        let d = json!({"b": 1, "a": {"d": 2, "c": [1, "x", null, true, 1.5]}, "B": "upper"});
        assert_eq!(
            ok("{{.}}", &d),
            "map[B:upper a:map[c:[1 x <nil> true 1.5] d:2] b:1]"
        );
        assert_eq!(ok("{{range $k, $v := .}}{{$k}};{{end}}", &d), "B;a;b;");
        assert_eq!(
            ok("{{range .a}}{{.}}|{{end}}", &d),
            "[1 x <nil> true 1.5]|2|"
        );
        assert_eq!(
            ok("{{json .}}", &d),
            r#"{"B":"upper","a":{"c":[1,"x",null,true,1.5],"d":2},"b":1}"#
        );
        assert_eq!(ok("{{join .a \",\"}}", &d), "2,[1 x <nil> true 1.5]");
    }

    #[test]
    fn numbers_print_as_go_does() {
        // raw JSON numbers are json.Number: the text Go's encoder wrote
        let d = json!({"i": 1_000_000, "u": u64::MAX, "f": 1e6, "g": 1.5, "n": -0.25});
        assert_eq!(
            ok("{{.i}} {{.u}} {{.f}} {{.g}} {{.n}}", &d),
            "1000000 18446744073709551615 1000000 1.5 -0.25"
        );
        let d = json!({"State": {"Pid": 1_000_000}, "HostConfig": {"Memory": 67_108_864}});
        assert_eq!(
            typed("{{.State.Pid}} {{.HostConfig.Memory}}", &d),
            "1000000 67108864"
        );
        for (v, want) in [
            (1e6, "1e+06"),
            (1e21, "1e+21"),
            (1e20, "1e+20"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (100.0, "100"),
            (0.1, "0.1"),
            (-0.0, "-0"),
            (0.0, "0"),
            (1.0 / 3.0, "0.3333333333333333"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
        ] {
            assert_eq!(format_float(v, 'g', -1), want, "{v}");
        }
        assert_eq!(format_float(f64::NAN, 'g', -1), "NaN");
        assert_eq!(format_float(f64::INFINITY, 'g', -1), "+Inf");
        for (v, want) in [
            (1e21, "1e+21"),
            (1e-7, "1e-7"),
            (100.0, "100"),
            (0.000001, "0.000001"),
            (1e20, "100000000000000000000"),
            (1.5, "1.5"),
        ] {
            assert_eq!(json_float(v), want, "{v}");
        }
    }

    #[test]
    fn printf_verbs_flags_width_precision() {
        let d = json!({"s": ["a", "b"], "m": {"k": 1}});
        for (text, want) in [
            (
                r#"{{printf "%5s|%-5s|%05d|%x|%X|%o|%b|%c|%q|%U" "ab" "cd" 42 255 255 8 5 65 "a\"b" 65}}"#,
                "   ab|cd   |00042|ff|FF|10|101|A|\"a\\\"b\"|U+0041",
            ),
            (
                r#"{{printf "%e|%E|%f|%.2f|%g|%G|%8.3f|%+d|% d|%t|%v" 1234.5678 1234.5678 3.14159 3.14159 0.000012345 1e21 3.14159 5 5 true 1.0}}"#,
                "1.234568e+03|1.234568E+03|3.141590|3.14|1.2345e-05|1E+21|   3.142|+5| 5|true|1",
            ),
            (
                r#"{{printf "%T|%T|%T|%T|%T" "s" 1 1.5 true .s}}"#,
                "string|int|float64|bool|[]interface {}",
            ),
            (
                r#"{{printf "%d"}}|{{printf "%d" 1 2}}|{{printf "%z" 1}}|{{printf "%"}}|{{printf "%!"}}"#,
                "%!d(MISSING)|1%!(EXTRA int=2)|%!z(int=1)|%!(NOVERB)|%!!(MISSING)",
            ),
            (
                r#"{{printf "%x" "hello"}}|{{printf "% x" "hi"}}|{{printf "%#x" 255}}|{{printf "%q" 65}}|{{printf "%08.3f" -3.14159}}"#,
                "68656c6c6f|68 69|0xff|'A'|-003.142",
            ),
            (
                r#"{{printf "%-8d|" 3}}|{{printf "%*d" 5 3}}|{{printf "%.3s" "abcdef"}}|{{printf "%.0f" 2.5}}|{{printf "%6.2e" 123456.0}}"#,
                "3       ||    3|abc|2|1.23e+05",
            ),
            (
                r#"{{printf "%[2]d %[1]d" 1 2}}|{{printf "%[3]d" 1}}|{{printf "%.*f" 2 3.14159}}|{{printf "%*d" "a" 1}}"#,
                "2 1|%!d(BADINDEX)|3.14|%!(BADWIDTH)1",
            ),
            (
                r#"{{printf "%05s|%-05d|%+.2e|%x|%+q|%#q" "ab" 3 1234.5 -255 "é" "a"}}"#,
                "000ab|3    |+1.23e+03|-ff|\"\\u00e9\"|`a`",
            ),
            (
                r#"{{printf "%s %d %v" .s .s .m}}"#,
                "[a b] [%!d(string=a) %!d(string=b)] map[k:1]",
            ),
            (
                r#"{{printf "%#v|%#v|%#v" .m "s" 1.5}}"#,
                "map[string]interface {}{\"k\":\"1\"}|\"s\"|1.5",
            ),
            (
                r#"{{printf "%v %s %d" nil nil nil}}"#,
                "<nil> %!s(<nil>) %!d(<nil>)",
            ),
            (
                r#"{{printf "%c|%U|%#U|%q|%o|%#o|%b|%O" 233 233 233 233 8 8 5 8}}"#,
                "é|U+00E9|U+00E9 'é'|'é'|10|010|101|0o10",
            ),
            (
                r#"{{printf "%e|%g|%g|%g|%G|%.3g|%.10g|%g" 0.0 0.0 100000.0 1000000.0 1e-5 1234567.0 0.1 1e-4}}"#,
                "0.000000e+00|0|100000|1e+06|1E-05|1.23e+06|0.1|0.0001",
            ),
            (
                r#"{{printf "100%%"}} {{print "a" "b" 1 2 "c" true false}}"#,
                "100% ab1 2ctrue false",
            ),
        ] {
            assert_eq!(ok(text, &d), want, "{text}");
        }
        assert_eq!(ok("{{println \"a\" 1}}", &d), "a 1\n");
    }

    #[test]
    fn functions() {
        let d = json!({"e": ["A=1", "B=<x&y>"], "n": "/web-1", "l": {"b": 2, "a": 1}});
        assert_eq!(
            ok(
                "{{json .e}}|{{json \"a<b>&\\u2028\\n\\t\\u0001\\\"\"}}|{{json nil}}",
                &d
            ),
            r#"["A=1","B=<x&y>"]|"a<b>&\u2028\n\t\u0001\""|null"#
        );
        assert_eq!(
            ok(
                "{{split .n \"-\"}} {{split \"a,b,,c\" \",\"}} {{len (split \"\" \",\")}}",
                &d
            ),
            "[/web 1] [a b  c] 1"
        );
        assert_eq!(
            ok("{{join .e \" \"}}|{{join .l \"+\"}}|{{join nil \",\"}}", &d),
            "A=1 B=<x&y>|1+2|"
        );
        assert_eq!(
            ok(
                "{{title \"hello wOrld-foo bar_baz\"}} {{upper \"abc\"}} {{lower \"ÀBC\"}} {{upper \"straße\"}}",
                &d
            ),
            "Hello WOrld-Foo Bar_baz ABC àbc STRAßE"
        );
        assert_eq!(
            ok(
                "[{{pad \"x\" 2 3}}][{{pad \"\" 2 3}}] {{truncate \"abcdef\" 3}} {{truncate \"ab\" 3}}",
                &d
            ),
            "[  x   ][] abc ab"
        );
        assert_eq!(
            ok("{{html \"<a href=\\\"x\\\">&'</a>\"}}", &d),
            "&lt;a href=&#34;x&#34;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(
            ok(
                "{{js \"a'b\\\"c<d>=&\\\\ é\"}}|{{urlquery \"a b&c=d/é\"}}",
                &d
            ),
            "a\\'b\\\"c\\u003Cd\\u003E\\u003D\\u0026\\\\ é|a+b%26c%3Dd%2F%C3%A9"
        );
        assert_eq!(
            ok(
                "{{index \"abc\" 1}} {{slice \"abcdef\" 1 3}} {{slice .e 1}} {{index .e 0}}",
                &d
            ),
            "98 bc [B=<x&y>] A=1"
        );
        assert_eq!(
            ok("{{len .e}} {{len .n}} {{len .l}} {{.e | len}}", &d),
            "2 6 2 2"
        );
        assert_eq!(
            ok(
                "{{and 1 0 2}}|{{and 1 2}}|{{or 0 \"\" \"x\"}}|{{or 0 \"\"}}|{{not 0}}|{{not \"a\"}}",
                &d
            ),
            "0|2|x||true|false"
        );
        assert_eq!(
            ok(
                "{{eq 1 2 3 1}} {{eq \"a\" \"b\"}} {{ne 1 2}} {{lt \"a\" \"b\"}} {{le 2 2}} {{gt 3.5 1.5}} {{ge 1 2}} {{eq .nope nil}}",
                &d
            ),
            "true false true true true true false true"
        );
        for (text, want) in [
            (
                "{{eq 1 \"a\"}}",
                "error calling eq: incompatible types for comparison: int and string",
            ),
            (
                "{{lt true false}}",
                "error calling lt: invalid type for comparison",
            ),
            (
                "{{index .e 10}}",
                "error calling index: index out of range: 10",
            ),
            (
                "{{index .e 2}}",
                "error calling index: reflect: slice index out of range",
            ),
            (
                "{{index .l 1}}",
                "error calling index: value has type int; should be string",
            ),
            (
                "{{slice .e 2 1}}",
                "error calling slice: invalid slice index: 2 > 1",
            ),
            ("{{len 3}}", "error calling len: len of type int"),
            (
                "{{truncate .n -1}}",
                "error calling truncate: runtime error: slice bounds out of range [:-1]",
            ),
            (
                "{{join 3 \",\"}}",
                "error calling join: expected slice, got int",
            ),
            (
                "{{call .n}}",
                "error calling call: non-function .n of type string",
            ),
            ("{{json}}", "wrong number of args for json: want 1 got 0"),
            (
                "{{and}}",
                "wrong number of args for and: want at least 1 got 0",
            ),
            ("{{split 1 \",\"}}", "expected string; found 1"),
            ("{{pad \"x\" \"a\" 1}}", "expected integer; found \"a\""),
        ] {
            let err = run(text, &d).unwrap_err();
            assert!(err.ends_with(want), "{text}: {err}");
        }
    }

    #[test]
    fn control_structures_and_variables() {
        let d = json!({"e": ["a", "b", "c"], "t": true, "z": "", "n": "x"});
        assert_eq!(
            ok("{{range $i, $v := .e}}{{$i}}={{$v}} {{end}}", &d),
            "0=a 1=b 2=c "
        );
        assert_eq!(
            ok(
                "{{range .e}}{{if eq . \"b\"}}{{break}}{{end}}{{.}}{{end}}",
                &d
            ),
            "a"
        );
        assert_eq!(
            ok(
                "{{range .e}}{{if eq . \"b\"}}{{continue}}{{end}}{{.}}{{end}}",
                &d
            ),
            "ac"
        );
        assert_eq!(
            ok(
                "{{range .nope}}x{{else}}none{{end}} {{range 3}}{{.}}{{end}} {{range 0}}x{{else}}zero{{end}}",
                &d
            ),
            "none 012 zero"
        );
        assert_eq!(
            ok(
                "{{if .t}}y{{else}}n{{end}} {{if .z}}y{{else if .n}}{{.n}}{{else}}n{{end}}",
                &d
            ),
            "y x"
        );
        assert_eq!(
            ok(
                "{{with .nope}}y{{else with .n}}[{{.}}]{{else}}n{{end}} {{with .e}}{{len .}}{{end}}",
                &d
            ),
            "[x] 3"
        );
        assert_eq!(
            ok(
                "{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}} {{$x = 3}}{{$x}}",
                &d
            ),
            "21 3"
        );
        assert_eq!(ok("{{$y := 0}}{{range $y = .e}}{{end}}{{$y}}", &d), "c");
        assert_eq!(ok("{{range .e}}{{$.n}}{{end}}", &d), "xxx");
        assert_eq!(
            ok(
                "{{define \"T\"}}[{{.}}]{{end}}{{template \"T\" .n}}{{template \"T\"}}{{block \"B\" .t}}<{{.}}>{{end}}",
                &d
            ),
            "[x][<no value>]<true>"
        );
        assert_eq!(
            ok(
                "{{(index .e 1) | printf \"%s!\"}} {{(len .e) | printf \"%d\"}}",
                &d
            ),
            "b! 3"
        );
        assert_eq!(
            run("{{range $i, $e := 3}}{{end}}", &d).unwrap_err(),
            "template: :1:18: executing \"\" at <3>: can't use 3 to iterate over more than one variable"
        );
        assert_eq!(
            run("{{range .n}}{{end}}", &d).unwrap_err(),
            "template: :1:8: executing \"\" at <.n>: range can't iterate over x"
        );
        let t = Template::parse("{{define \"a\"}}\n{{.Nope}}{{end}}{{template \"a\" .}}").unwrap();
        assert_eq!(
            t.execute(&d, &Options::raw()).unwrap_err(),
            "template: :2:2: executing \"a\" at <.Nope>: map has no entry for key \"Nope\""
        );
        assert_eq!(
            run("{{template \"x\"}}", &d).unwrap_err(),
            "template: :1:11: executing \"\" at <{{template \"x\"}}>: template \"x\" not defined"
        );
        assert_eq!(
            run("{{$x = 2}}", &d).unwrap_err(),
            "template: :1:7: executing \"\" at <2>: undefined variable: $x"
        );
    }

    #[test]
    fn typed_docker_semantics() {
        let d = container();
        assert_eq!(
            typed(
                "{{.Config.Entrypoint}} {{.Config.Volumes}} {{.HostConfig.Binds}} {{.HostConfig.PidsLimit}}",
                &d
            ),
            "[] map[] [] <nil>"
        );
        assert_eq!(
            typed(
                "{{.State.Health}} {{json .State.Health}} {{.Config.ExposedPorts}}",
                &d
            ),
            "<nil> null map[80/tcp:{}]"
        );
        assert_eq!(
            typed(
                "{{.HostConfig.RestartPolicy}} {{printf \"%+v\" .HostConfig.RestartPolicy}}",
                &d
            ),
            "{no 0} {Name:no MaximumRetryCount:0}"
        );
        assert_eq!(
            typed(
                "{{index .Config.Labels \"nope\"}}|{{.Config.Labels.nope}}|{{.HostConfig.CPUShares}}",
                &d
            ),
            "|<no value>|512"
        );
        assert_eq!(
            typed(
                "{{.HostConfig.Ulimits}} {{index .HostConfig.Ulimits 0}}",
                &d
            ),
            "[nofile=1024:2048] nofile=1024:2048"
        );
        assert_eq!(
            typed(
                "{{.Config.Healthcheck}} {{.Config.Healthcheck.Interval}}",
                &d
            ),
            "{[CMD true] 1m30s 0s 0s 0s 0} 1m30s"
        );
        assert_eq!(
            typed("{{printf \"%T %T %v\" .State .Config.Cmd .State}}", &d),
            "*container.State strslice.StrSlice &{running true false false false false 42 0  2024-01-02T03:04:06Z 0001-01-01T00:00:00Z <nil>}"
        );
        assert_eq!(
            typed("{{json .State}}", &d),
            r#"{"Status":"running","Running":true,"Paused":false,"Restarting":false,"OOMKilled":false,"Dead":false,"Pid":42,"ExitCode":0,"Error":"","StartedAt":"2024-01-02T03:04:06Z","FinishedAt":"0001-01-01T00:00:00Z"}"#
        );
        assert_eq!(
            typed(
                "{{json .HostConfig.RestartPolicy}} {{json .Config.Healthcheck}}",
                &d
            ),
            r#"{"Name":"no","MaximumRetryCount":0} {"Test":["CMD","true"],"Interval":90000000000}"#
        );
        let t = Template::parse("{{.Id}}").unwrap();
        let err = t
            .execute(&d, &Options::typed(&docker::CONTAINER))
            .unwrap_err();
        assert_eq!(
            err,
            "template: :1:2: executing \"\" at <.Id>: can't evaluate field Id in type container.InspectResponse"
        );
        // docker inspect: the typed pass fails, the raw pass prints
        let t = Template::parse("{{.Id}} {{.Config.Entrypoint}} {{.State.Pid}}").unwrap();
        assert_eq!(
            t.inspect(&d, Some(&docker::CONTAINER)).unwrap(),
            "0123456789abcdef <no value> 42"
        );
        let t =
            Template::parse("{{(index (index .HostConfig.PortBindings \"80/tcp\") 0).HostPort}}")
                .unwrap();
        assert!(
            t.execute(&d, &Options::typed(&docker::CONTAINER))
                .unwrap_err()
                .ends_with("value has type string; should be nat.Port")
        );
        assert_eq!(t.inspect(&d, Some(&docker::CONTAINER)).unwrap(), "8080");
        let t = Template::parse("{{.Nope}}").unwrap();
        assert_eq!(
            t.inspect(&d, Some(&docker::CONTAINER)).unwrap_err(),
            "template: :1:2: executing \"\" at <.Nope>: map has no entry for key \"Nope\""
        );
    }

    #[test]
    fn raw_numbers_are_json_numbers() {
        let d = json!({"Pid": 0, "F": 1.5});
        assert_eq!(
            ok(
                "{{printf \"%d %s %v %T\" .Pid .Pid .Pid .Pid}} {{len .Pid}} {{.F}}",
                &d
            ),
            "%!d(json.Number=0) 0 0 json.Number 1 1.5"
        );
        assert!(
            run("{{eq .Pid 0}}", &d).unwrap_err().ends_with(
                "error calling eq: incompatible types for comparison: json.Number and int"
            )
        );
        assert_eq!(ok("{{eq .Pid \"0\"}}", &d), "true");
    }

    #[test]
    fn methods_of_the_data() {
        let row = json!({"ID": "0123456789ab", "Names": "web", "Labels": "k=v"});
        let opts = Options::typed(&docker::PS_CONTAINER).method("Label", 1, |args| {
            Ok(match args[0].as_str() {
                Some("k") => "v".into(),
                _ => "".into(),
            })
        });
        let exec = |text: &str| Template::parse(text).unwrap().execute(&row, &opts);
        assert_eq!(
            exec("{{.Names}} {{.Label \"k\"}}|{{.Label \"x\"}}|{{\"k\" | .Label}}").unwrap(),
            "web v||v"
        );
        assert_eq!(
            exec("{{printf \"%T %T\" . .ID}} {{len .ID}}").unwrap(),
            "*formatter.ContainerContext string 12"
        );
        assert_eq!(
            exec("{{json .}}").unwrap(),
            r#"{"ID":"0123456789ab","Labels":"k=v","Names":"web"}"#
        );
        for (text, want) in [
            (
                "{{.Label}}",
                "template: :1:2: executing \"\" at <.Label>: wrong number of args for Label: want 1 got 0",
            ),
            (
                "{{.ID \"x\"}}",
                "template: :1:2: executing \"\" at <.ID>: wrong number of args for ID: want 0 got 1",
            ),
            (
                "{{.Foo}}",
                "template: :1:2: executing \"\" at <.Foo>: can't evaluate field Foo in type *formatter.ContainerContext",
            ),
            (
                "{{index . \"ID\"}}",
                "template: :1:2: executing \"\" at <index . \"ID\">: error calling index: can't index item of type formatter.ContainerContext",
            ),
        ] {
            assert_eq!(exec(text).unwrap_err(), want, "{text}");
        }
        let failing = Options::new().method("Boom", 0, |_| Err("no".into()));
        let t = Template::parse("{{.Boom}}").unwrap();
        assert_eq!(
            t.execute(&json!({}), &failing).unwrap_err(),
            "template: :1:2: executing \"\" at <.Boom>: error calling Boom: no"
        );
    }

    #[test]
    fn table_headers_keep_their_text() {
        let header = json!({"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE"});
        let t = Template::parse(
            "{{.ID}}\t{{upper .Names}}\t{{truncate .Image 2}}\t{{json .ID}}\t{{split .Names \",\"}}\t[{{pad .Image 1 1}}]",
        )
        .unwrap();
        let opts = Options::new().header_functions();
        assert_eq!(
            t.execute(&header, &opts).unwrap(),
            "CONTAINER ID\tNAMES\tIMAGE\tCONTAINER ID\tNAMES\t[ IMAGE ]"
        );
    }

    #[test]
    fn durations_times_and_quoting() {
        for (ns, want) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (2_000_000, "2ms"),
            (1_000_000_000, "1s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_723_500_000_000, "1h2m3.5s"),
            (-1_500_000_000, "-1.5s"),
        ] {
            assert_eq!(duration_string(ns), want, "{ns}");
        }
        assert_eq!(
            time_string("2026-12-01T21:38:40.652119846Z"),
            "2026-12-01 21:38:40.652119846 +0000 UTC"
        );
        assert_eq!(
            time_string("2024-01-02T03:04:05.500Z"),
            "2024-01-02 03:04:05.5 +0000 UTC"
        );
        assert_eq!(
            time_string("0001-01-01T00:00:00Z"),
            "0001-01-01 00:00:00 +0000 UTC"
        );
        assert_eq!(
            time_string("2024-01-02T03:04:05+01:00"),
            "2024-01-02 03:04:05 +0100 +0100"
        );
        assert_eq!(
            go_quote("a\"b\\\n\t\u{7}\u{1}é\u{2028}\u{1F600}"),
            "\"a\\\"b\\\\\\n\\t\\a\\x01é\\u2028😀\""
        );
        assert_eq!(quote_with("é", '"', true), "\"\\u00e9\"");
        let mut out = String::new();
        json_string(&mut out, "<&>\u{8}\u{c}\u{1f}", true);
        assert_eq!(out, "\"\\u003c\\u0026\\u003e\\b\\f\\u001f\"");
    }
}

#[cfg(test)]
mod robustness {
    use super::*;

    #[test]
    fn deep_nesting_and_recursion_are_errors_not_crashes() {
        let d = serde_json::json!({"a": 1});
        let t = Template::parse("{{define \"a\"}}{{template \"a\" .}}{{end}}{{template \"a\" .}}")
            .unwrap();
        let err = t.execute(&d, &Options::new()).unwrap_err();
        assert!(
            err.ends_with("exceeded maximum template depth (1000)"),
            "{err}"
        );
        for n in [101, 5000] {
            let deep = format!("{}x{}", "{{if 1}}".repeat(n), "{{end}}".repeat(n));
            let err = Template::parse(&deep).unwrap_err();
            assert_eq!(err, "template: :1: max expression depth exceeded");
            let parens = format!("{{{{{}1{}}}}}", "(".repeat(n), ")".repeat(n));
            let err = Template::parse(&parens).unwrap_err();
            assert_eq!(err, "template: :1: max expression depth exceeded");
        }
        let nested = format!(
            "{}{{{{{}.a{}}}}}{}",
            "{{with .}}".repeat(50),
            "(".repeat(49),
            ")".repeat(49),
            "{{end}}".repeat(50)
        );
        let t = Template::parse(&nested).unwrap();
        assert_eq!(t.execute(&d, &Options::new()).unwrap(), "1");
    }

    const PIECES: &[&str] = &[
        "{{",
        "}}",
        "{{- ",
        " -}}",
        ".",
        ".Name",
        ".Config",
        ".Env",
        ".Labels",
        ".State",
        ".Pid",
        ".Id",
        ".X",
        "$",
        "$x",
        " := ",
        " = ",
        ", ",
        "|",
        "(",
        ")",
        " ",
        "\n",
        "if",
        "else",
        "range",
        "with",
        "end",
        "break",
        "continue",
        "define",
        "template",
        "block",
        "\"a\"",
        "`r`",
        "'c'",
        "1",
        "-2",
        "1.5",
        "1e3",
        "0x1F",
        "nil",
        "true",
        "len",
        "index",
        "slice",
        "printf",
        "print",
        "json",
        "join",
        "split",
        "eq",
        "lt",
        "and",
        "not",
        "call",
        "\"%v %d %s\"",
        "\"%5.2f %x %q\"",
        "/*",
        "*/",
        "text",
        "é",
        "-",
        ":",
        "=",
    ];

    fn exercise(text: &str) -> bool {
        let Ok(t) = Template::parse(text) else {
            return false;
        };
        let data = serde_json::json!({
            "Name": "/web", "Env": ["A=1"], "Labels": {"k": "v"}, "X": null,
            "Config": {"Env": ["A=1"], "Labels": {"k": "v"}, "Entrypoint": null},
            "State": {"Pid": 1, "Status": "running"}
        });
        let _ = t.execute(&data, &Options::new());
        let _ = t.execute(&data, &Options::raw());
        let _ = t.inspect(&data, Some(&docker::CONTAINER));
        true
    }

    proptest::proptest! {
        #[test]
        fn random_templates_never_panic(idx in proptest::collection::vec(0..PIECES.len(), 0..40)) {
            let text: String = idx.iter().map(|&i| PIECES[i]).collect();
            exercise(&text);
        }

        #[test]
        fn random_actions_never_panic(
            parts in proptest::collection::vec(
                (0..PIECES.len(), 0..PIECES.len(), 0..PIECES.len(), proptest::bool::ANY),
                0..12,
            )
        ) {
            let text: String = parts
                .iter()
                .map(|&(a, b, c, action)| {
                    if action {
                        format!("{{{{{} {} {}}}}}", PIECES[a], PIECES[b], PIECES[c])
                    } else {
                        PIECES[a].to_string()
                    }
                })
                .collect();
            exercise(&text);
        }
    }
}
