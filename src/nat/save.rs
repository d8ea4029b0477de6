//! `iptables-save` text -> plain values: a table's chains (policy, counters) and its
//! rules, each with addresses, interfaces, protocol, matches and target, as
//! iptables-save wrote them.
//!
//! Pure and total: no I/O, and no input makes it fail or panic. A line it does not
//! understand becomes `Line::Other`, an option it does not know keeps its words, so a
//! renderer can still show something sensible (a fuzzing issue will hold it to that).
//! Values borrow from the text, and a rule's few matches and options sit inline: listing
//! 10,000 rules should not mean 100,000 allocations.

use std::borrow::Cow;

use smallvec::SmallVec;

use crate::model::Family;

/// The nat table's built-in chains, in the order iptables lists them.
pub const BUILTIN_CHAINS: [&str; 4] = ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"];

/// Packet and byte counters (`[packets:bytes]` in iptables-save -c).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub packets: u64,
    pub bytes: u64,
}

/// One line of iptables-save output.
// one value per line, used at once: boxing the rule would cost an allocation a line
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// `*nat`: a table starts.
    Table(&'a str),
    /// `:NAME POLICY [packets:bytes]`: a chain, with `-` as policy for a user chain.
    Chain(ChainDecl<'a>),
    /// `[packets:bytes] -A CHAIN ...`
    Rule(Rule<'a>),
    /// `COMMIT`: the table ends.
    Commit,
    /// `# ...`
    Comment(&'a str),
    /// A blank line, or one this parser does not understand.
    Other(&'a str),
}

/// A chain declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainDecl<'a> {
    pub name: &'a str,
    /// `None` for a user chain (`-`).
    pub policy: Option<&'a str>,
    pub counters: Counters,
}

/// A value that a rule can negate with `!`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neg<T> {
    pub negated: bool,
    pub value: T,
}

/// One rule, in iptables-save's order: `-s -d -i -o -p -f`, the matches, the target.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rule<'a> {
    pub chain: &'a str,
    pub counters: Counters,
    /// As saved: `10.0.0.0/8`, `1.2.3.4/32`, or a dotted mask when it is not a prefix.
    pub source: Option<Neg<&'a str>>,
    pub destination: Option<Neg<&'a str>>,
    pub in_interface: Option<Neg<&'a str>>,
    pub out_interface: Option<Neg<&'a str>>,
    /// As saved: a name (`tcp`, `gre`) or a number with no name (`253`).
    pub protocol: Option<Neg<&'a str>>,
    /// `-f` (`Some(false)`) or `! -f` (`Some(true)`).
    pub fragment: Option<bool>,
    pub matches: SmallVec<[Module<'a>; 4]>,
    /// `None` when the rule has neither `-j` nor `-g`.
    pub target: Option<Target<'a>>,
    /// Words that fit nowhere else, kept so that nothing is silently lost.
    pub extra: Vec<Cow<'a, str>>,
}

/// A match (`-m NAME --opt value ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module<'a> {
    pub name: &'a str,
    pub options: SmallVec<[Opt<'a>; 2]>,
}

/// The target: `-j NAME --opt value ...`, or `-g CHAIN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target<'a> {
    pub name: &'a str,
    pub goto: bool,
    pub options: SmallVec<[Opt<'a>; 2]>,
}

/// One option of a match or target: `[!] --name [value ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt<'a> {
    pub negated: bool,
    /// Without the leading `--`.
    pub name: &'a str,
    /// The option's words joined by one space (empty for a flag), with iptables-save's
    /// quoting undone.
    pub value: Cow<'a, str>,
}

impl<'a> Module<'a> {
    /// The first option of this name.
    pub fn option(&self, name: &str) -> Option<&Opt<'a>> {
        self.options.iter().find(|o| o.name == name)
    }
}

impl<'a> Target<'a> {
    /// The first option of this name.
    pub fn option(&self, name: &str) -> Option<&Opt<'a>> {
        self.options.iter().find(|o| o.name == name)
    }
}

impl<'a> Rule<'a> {
    /// The target's name, or `""` when the rule has none.
    pub fn target_name(&self) -> &'a str {
        self.target.as_ref().map_or("", |t| t.name)
    }

    /// The name a rule jumps or goes to: a user chain or a target (`DNAT`); which of
    /// the two is for the caller to tell, from the table's chains.
    pub fn jump(&self) -> Option<&'a str> {
        self.target.as_ref().map(|t| t.name)
    }

    /// The texts of the rule's comments, in order.
    pub fn comments(&self) -> impl Iterator<Item = &str> {
        self.matches
            .iter()
            .filter(|m| m.name == "comment")
            .flat_map(|m| m.options.iter())
            .filter(|o| o.name == "comment")
            .map(|o| o.value.as_ref())
    }

    /// The container id of a rule berth wrote (`berth:<12 hex>` in a comment).
    pub fn berth_id(&self) -> Option<&str> {
        self.comments().find_map(berth_id)
    }
}

/// `berth:<12 hex>` -> the id.
pub fn berth_id(comment: &str) -> Option<&str> {
    let id = comment.strip_prefix("berth:")?;
    (id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

/// The protocol number for a name as iptables-save writes it (its own table first,
/// then /etc/protocols as Debian's netbase ships it), or for a number.
pub fn protocol_number(name: &str) -> Option<u8> {
    if let Ok(n) = name.parse::<u8>() {
        return Some(n);
    }
    PROTOCOLS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, num)| num)
}

/// iptables' own names (`xtables_chain_protos`), then netbase's /etc/protocols.
const PROTOCOLS: &[(&str, u8)] = &[
    ("tcp", 6),
    ("sctp", 132),
    ("udp", 17),
    ("udplite", 136),
    ("icmp", 1),
    ("ipv6-icmp", 58),
    ("icmpv6", 58),
    ("esp", 50),
    ("ah", 51),
    ("mobility-header", 135),
    ("ipv6-mh", 135),
    ("mh", 135),
    ("all", 0),
    ("ip", 0),
    ("hopopt", 0),
    ("igmp", 2),
    ("ggp", 3),
    ("ipencap", 4),
    ("st", 5),
    ("egp", 8),
    ("igp", 9),
    ("pup", 12),
    ("hmp", 20),
    ("xns-idp", 22),
    ("rdp", 27),
    ("iso-tp4", 29),
    ("dccp", 33),
    ("xtp", 36),
    ("ddp", 37),
    ("idpr-cmtp", 38),
    ("ipv6", 41),
    ("ipv6-route", 43),
    ("ipv6-frag", 44),
    ("idrp", 45),
    ("rsvp", 46),
    ("gre", 47),
    ("skip", 57),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("rspf", 73),
    ("vmtp", 81),
    ("eigrp", 88),
    ("ospf", 89),
    ("ax.25", 93),
    ("ipip", 94),
    ("etherip", 97),
    ("encap", 98),
    ("pim", 103),
    ("ipcomp", 108),
    ("vrrp", 112),
    ("l2tp", 115),
    ("isis", 124),
    ("fc", 133),
    ("mpls-in-ip", 137),
    ("manet", 138),
    ("hip", 139),
    ("shim6", 140),
    ("wesp", 141),
    ("rohc", 142),
    ("ethernet", 143),
];

/// Parse one line (without its `\n`).
pub fn parse_line(line: &str) -> Line<'_> {
    let trimmed = line.trim_end_matches(['\r', '\n']);
    let bytes = trimmed.as_bytes();
    match bytes.first() {
        Some(b'*') => Line::Table(&trimmed[1..]),
        Some(b':') => parse_chain(trimmed).map_or(Line::Other(line), Line::Chain),
        Some(b'#') => Line::Comment(trimmed),
        Some(b'[') | Some(b'-') => parse_rule(trimmed).map_or(Line::Other(line), Line::Rule),
        _ if trimmed == "COMMIT" => Line::Commit,
        _ => Line::Other(line),
    }
}

/// `:NAME POLICY [p:b]`
fn parse_chain(line: &str) -> Option<ChainDecl<'_>> {
    let mut parts = line[1..].split_ascii_whitespace();
    let name = parts.next()?;
    let policy = parts.next().filter(|p| *p != "-");
    let counters = parts.next().and_then(parse_counters).unwrap_or_default();
    Some(ChainDecl {
        name,
        policy,
        counters,
    })
}

/// `[p:b]`
fn parse_counters(word: &str) -> Option<Counters> {
    let inner = word.strip_prefix('[')?.strip_suffix(']')?;
    let (p, b) = inner.split_once(':')?;
    Some(Counters {
        packets: p.parse().ok()?,
        bytes: b.parse().ok()?,
    })
}

/// `[p:b] -A CHAIN options...`; `None` when it is not a rule at all.
pub fn parse_rule(line: &str) -> Option<Rule<'_>> {
    let mut stack = [Word::default(); 48];
    let mut heap = Vec::new();
    let words = split_words(line, &mut stack, &mut heap);
    let mut words = Cursor {
        line,
        words,
        pos: 0,
    };
    let mut rule = Rule::default();
    let mut first = words.next()?;
    if first.kind == Kind::Plain && words.plain(first).starts_with('[') {
        rule.counters = parse_counters(words.plain(first))?;
        first = words.next()?;
    }
    if first.kind != Kind::Plain || !matches!(words.plain(first), "-A" | "--append") {
        return None;
    }
    rule.chain = words.take()?;

    let mut in_target = false;
    while let Some(mut word) = words.next() {
        let mut negated = false;
        if word.kind == Kind::Plain && words.plain(word) == "!" {
            negated = true;
            match words.next() {
                Some(w) => word = w,
                None => {
                    rule.extra.push(Cow::Borrowed("!"));
                    break;
                }
            }
        }
        if word.kind != Kind::Plain {
            rule.extra.push(words.text(word));
            continue;
        }
        let text = words.plain(word);
        match base_option(text) {
            b's' => {
                rule.source = words.take().map(|value| Neg { negated, value });
            }
            b'd' => {
                rule.destination = words.take().map(|value| Neg { negated, value });
            }
            b'i' => {
                rule.in_interface = words.take().map(|value| Neg { negated, value });
            }
            b'o' => {
                rule.out_interface = words.take().map(|value| Neg { negated, value });
            }
            b'p' => {
                rule.protocol = words.take().map(|value| Neg { negated, value });
            }
            b'f' => rule.fragment = Some(negated),
            b'm' => {
                in_target = false;
                if let Some(name) = words.take() {
                    rule.matches.push(Module {
                        name,
                        options: SmallVec::new(),
                    });
                }
            }
            b'j' | b'g' => {
                in_target = true;
                if let Some(name) = words.take() {
                    rule.target = Some(Target {
                        name,
                        goto: base_option(text) == b'g',
                        options: SmallVec::new(),
                    });
                }
            }
            b'c' => {
                let p = words.take().and_then(|w| w.parse().ok());
                let b = words.take().and_then(|w| w.parse().ok());
                if let (Some(packets), Some(bytes)) = (p, b) {
                    rule.counters = Counters { packets, bytes };
                }
            }
            _ if text.starts_with("--") && text.len() > 2 => {
                let name = &text[2..];
                let value = option_value(name, &mut words);
                let opt = Opt {
                    negated,
                    name,
                    value,
                };
                match (&mut rule.target, in_target) {
                    (Some(target), true) => target.options.push(opt),
                    _ => {
                        // options before any -m (hand-written, never from
                        // iptables-save) belong to the protocol's implicit match
                        if rule.matches.is_empty() {
                            let implicit = rule.protocol.map_or("", |p| p.value);
                            rule.matches.push(Module {
                                name: implicit,
                                options: SmallVec::new(),
                            });
                        }
                        if let Some(m) = rule.matches.last_mut() {
                            m.options.push(opt);
                        }
                    }
                }
            }
            _ => {
                if negated {
                    rule.extra.push(Cow::Borrowed("!"));
                }
                rule.extra.push(Cow::Borrowed(text));
            }
        }
    }
    Some(rule)
}

/// The letter of a rule's own option (`-s`, `--source` -> `s`), 0 for anything else.
fn base_option(word: &str) -> u8 {
    match word.as_bytes() {
        [b'-', letter] => match letter {
            b's' | b'd' | b'i' | b'o' | b'p' | b'f' | b'm' | b'j' | b'g' | b'c' => *letter,
            _ => 0,
        },
        [b'-', b'-', long @ ..] => match long {
            b"source" | b"src" => b's',
            b"destination" | b"dst" => b'd',
            b"in-interface" => b'i',
            b"out-interface" => b'o',
            b"protocol" => b'p',
            b"fragment" => b'f',
            b"match" => b'm',
            b"jump" => b'j',
            b"goto" => b'g',
            b"set-counters" => b'c',
            _ => 0,
        },
        _ => 0,
    }
}

/// How many words an option takes: `None` for "up to the next option".
fn arity(name: &str) -> Option<usize> {
    match name {
        // flags
        "random" | "random-fully" | "persistent" | "limit-iface-in" | "limit-iface-out" | "syn"
        | "set" | "rcheck" | "update" | "remove" | "reap" | "rttl" | "rsource" | "rdest"
        | "physdev-is-in" | "physdev-is-out" | "physdev-is-bridged" | "log-tcp-sequence"
        | "log-tcp-options" | "log-ip-options" | "log-uid" | "log-macdecode" | "return-nomatch"
        | "update-counters" | "update-subcounters" | "notrack" | "exist" => Some(0),
        // free text: one word, however it looks (a comment may read `--dport`)
        "comment" | "log-prefix" | "name" | "nflog-prefix" => Some(1),
        "tcp-flags" | "chunk-types" | "match-set" | "add-set" | "del-set" => Some(2),
        _ => None,
    }
}

/// The value of option `name`: its words, joined by one space.
fn option_value<'a>(name: &str, words: &mut Cursor<'_, 'a>) -> Cow<'a, str> {
    let count = arity(name);
    let first = words.pos;
    while count.is_none_or(|c| words.pos - first < c) {
        let Some(next) = words.peek() else { break };
        if count.is_none() && words.ends_value(next) {
            break;
        }
        words.pos += 1;
    }
    let taken = &words.words[first..words.pos];
    match taken {
        [] => Cow::Borrowed(""),
        [one] => words.text(*one),
        [a, .., z] if taken.iter().all(|w| w.kind == Kind::Plain) => {
            // several plain words: one slice of the line
            Cow::Borrowed(&words.line[a.start as usize..z.end as usize])
        }
        _ => Cow::Owned(
            taken
                .iter()
                .map(|w| words.text(*w))
                .collect::<Vec<_>>()
                .join(" "),
        ),
    }
}

/// How a word was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Kind {
    /// As is.
    #[default]
    Plain,
    /// `"text"` with no escapes: the text is the slice inside the quotes.
    Quoted,
    /// Anything else with quotes: undone by `unquote`.
    Complex,
}

/// A word of a line, as a span of it (no allocation per word).
#[derive(Debug, Clone, Copy, Default)]
struct Word {
    start: u32,
    end: u32,
    kind: Kind,
}

/// Reads the words of a line in order.
struct Cursor<'w, 'a> {
    line: &'a str,
    words: &'w [Word],
    pos: usize,
}

impl<'a> Cursor<'_, 'a> {
    fn next(&mut self) -> Option<Word> {
        let w = *self.words.get(self.pos)?;
        self.pos += 1;
        Some(w)
    }

    fn peek(&self) -> Option<Word> {
        self.words.get(self.pos).copied()
    }

    /// The text of a plain word.
    fn plain(&self, w: Word) -> &'a str {
        &self.line[w.start as usize..w.end as usize]
    }

    /// The text of any word, with the quoting undone.
    fn text(&self, w: Word) -> Cow<'a, str> {
        match w.kind {
            Kind::Plain => Cow::Borrowed(self.plain(w)),
            Kind::Quoted => Cow::Borrowed(&self.line[w.start as usize + 1..w.end as usize - 1]),
            Kind::Complex => Cow::Owned(unquote(self.plain(w))),
        }
    }

    /// The next word, when it is a plain one.
    fn take(&mut self) -> Option<&'a str> {
        self.next()
            .filter(|w| w.kind == Kind::Plain)
            .map(|w| self.plain(w))
    }

    /// Whether a word starts something new rather than continuing a value.
    fn ends_value(&self, w: Word) -> bool {
        if w.kind != Kind::Plain {
            return false;
        }
        let t = self.plain(w);
        t == "!" || t.starts_with("--") || (t.len() == 2 && t.starts_with('-') && t != "--")
    }
}

/// Split a line into words as iptables-restore does (`add_param_to_argv`): blanks
/// separate words, double quotes group, and inside quotes a backslash takes the next
/// character literally; single quotes are ordinary characters. The words go into
/// `stack` while they fit, else into `heap`.
fn split_words<'s>(line: &str, stack: &'s mut [Word], heap: &'s mut Vec<Word>) -> &'s [Word] {
    let bytes = line.as_bytes();
    let mut n = 0;
    let mut push = |w: Word| {
        if n < stack.len() {
            stack[n] = w;
        } else {
            if heap.is_empty() {
                heap.extend_from_slice(stack);
            }
            heap.push(w);
        }
        n += 1;
    };
    let is_blank = |b: u8| CLASS[b as usize] == 1;
    let mut i = 0;
    // spans are u32: longer lines (never from iptables) are cut
    let len = bytes.len().min(u32::MAX as usize);
    while i < len {
        if is_blank(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        if bytes[i] == b'"' {
            // `"text"` followed by a blank or the end, with no backslash inside
            let close = memchr::memchr2(b'"', b'\\', &bytes[i + 1..len]).map(|p| i + 1 + p);
            if let Some(c) = close
                && bytes[c] == b'"'
                && (c + 1 == len || is_blank(bytes[c + 1]))
            {
                push(Word {
                    start: start as u32,
                    end: c as u32 + 1,
                    kind: Kind::Quoted,
                });
                i = c + 1;
                continue;
            }
        }
        // a plain word (nearly all of them): run to the next blank or quote
        while i < len && CLASS[bytes[i] as usize] == 0 {
            i += 1;
        }
        let mut kind = Kind::Plain;
        if i < len && bytes[i] == b'"' {
            kind = Kind::Complex;
            let mut quote_open = false;
            let mut escaped = false;
            while i < len {
                let c = bytes[i];
                if quote_open {
                    if escaped {
                        escaped = false;
                    } else if c == b'\\' {
                        escaped = true;
                    } else if c == b'"' {
                        // a closing quote ends the word
                        i += 1;
                        break;
                    }
                } else if c == b'"' {
                    quote_open = true;
                } else if is_blank(c) {
                    break;
                }
                i += 1;
            }
        }
        push(Word {
            start: start as u32,
            end: i as u32,
            kind,
        });
    }
    if heap.is_empty() {
        &stack[..n]
    } else {
        &heap[..]
    }
}

/// Bytes that end a plain word: 1 for a blank, 2 for a double quote.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b' ' as usize] = 1;
    t[b'\t' as usize] = 1;
    t[b'\n' as usize] = 1;
    t[b'"' as usize] = 2;
    t
};

/// The text of a word with quotes: what iptables-restore hands to the extension.
fn unquote(word: &str) -> String {
    let mut buf = Vec::with_capacity(word.len());
    let mut quote_open = false;
    let mut escaped = false;
    for &c in word.as_bytes() {
        if quote_open {
            if escaped {
                buf.push(c);
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                quote_open = false;
            } else {
                buf.push(c);
            }
        } else if c == b'"' {
            quote_open = true;
        } else {
            buf.push(c);
        }
    }
    // only ASCII quotes and backslashes were taken out: still UTF-8
    String::from_utf8(buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The parsed table: chains in iptables' order, each with its rules and the number of
/// rules that jump or go to it. Built-in chains that the text lacks are added with
/// policy ACCEPT, as `iptables -L` shows them.
#[derive(Debug, Clone)]
pub struct Table<'a> {
    pub chains: Vec<Chain<'a>>,
    /// The generator named in iptables-save's first comment, e.g.
    /// `iptables-nft-save v1.8.9 (nf_tables)`.
    pub generator: Option<&'a str>,
    /// IPv4 (iptables-save) or IPv6 (ip6tables-save): as asked for, else as the
    /// generator tells, else IPv4.
    pub family: Family,
}

impl Default for Table<'_> {
    fn default() -> Self {
        Table {
            chains: Vec::new(),
            generator: None,
            family: Family::V4,
        }
    }
}

/// A chain with its rules.
#[derive(Debug, Clone)]
pub struct Chain<'a> {
    pub name: &'a str,
    /// `Some` for a built-in chain.
    pub policy: Option<&'a str>,
    pub counters: Counters,
    /// How many rules jump or go to this chain (user chains).
    pub references: u32,
    pub rules: Vec<Rule<'a>>,
}

impl<'a> Table<'a> {
    /// Read the nat table from iptables-save output (other tables are skipped; text
    /// with no table header at all is taken as the nat table). The family is the one
    /// the generator names (`ip6tables-save`), else IPv4.
    pub fn parse(text: &'a str) -> Table<'a> {
        Self::parse_inner(text, None)
    }

    /// The same for output of the given family's iptables-save (`ip6tables-save`).
    pub fn parse_family(text: &'a str, family: Family) -> Table<'a> {
        Self::parse_inner(text, Some(family))
    }

    fn parse_inner(text: &'a str, family: Option<Family>) -> Table<'a> {
        let mut table = Table::default();
        let mut index: std::collections::HashMap<&'a str, usize> = Default::default();
        let mut in_nat = true;
        for line in text.lines() {
            match parse_line(line) {
                Line::Table(name) => in_nat = name == "nat",
                Line::Comment(c) if table.generator.is_none() => {
                    table.generator = generator(c);
                }
                Line::Chain(decl) if in_nat => {
                    let i = *index.entry(decl.name).or_insert_with(|| {
                        table.chains.push(Chain::new(decl.name));
                        table.chains.len() - 1
                    });
                    table.chains[i].policy = decl.policy;
                    table.chains[i].counters = decl.counters;
                }
                Line::Rule(rule) if in_nat => {
                    let i = *index.entry(rule.chain).or_insert_with(|| {
                        table.chains.push(Chain::new(rule.chain));
                        table.chains.len() - 1
                    });
                    table.chains[i].rules.push(rule);
                }
                _ => {}
            }
        }
        for name in BUILTIN_CHAINS {
            if !index.contains_key(name) {
                let mut chain = Chain::new(name);
                chain.policy = Some("ACCEPT");
                table.chains.push(chain);
            }
        }
        let mut refs: std::collections::HashMap<&'a str, u32> = Default::default();
        for chain in &table.chains {
            for rule in &chain.rules {
                if let Some(to) = rule.jump() {
                    *refs.entry(to).or_default() += 1;
                }
            }
        }
        for chain in &mut table.chains {
            chain.references = refs.get(chain.name).copied().unwrap_or(0);
        }
        table.chains.sort_by(|a, b| chain_order(a.name, b.name));
        table.family = family
            .or_else(|| table.generator.and_then(generator_family))
            .unwrap_or(Family::V4);
        table
    }

    /// The chain of this name.
    pub fn chain(&self, name: &str) -> Option<&Chain<'a>> {
        self.chains.iter().find(|c| c.name == name)
    }
}

impl<'a> Chain<'a> {
    fn new(name: &'a str) -> Self {
        Chain {
            name,
            policy: None,
            counters: Counters::default(),
            references: 0,
            rules: Vec::new(),
        }
    }
}

/// iptables' chain order: the built-in chains in hook order, then the rest by byte
/// value (`strcmp`).
pub fn chain_order(a: &str, b: &str) -> std::cmp::Ordering {
    let rank = |n: &str| {
        BUILTIN_CHAINS
            .iter()
            .position(|b| *b == n)
            .unwrap_or(BUILTIN_CHAINS.len())
    };
    rank(a)
        .cmp(&rank(b))
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

/// `# Generated by iptables-nft-save v1.8.9 (nf_tables) on ...` -> the part between
/// `by ` and ` on`.
pub fn generator(comment: &str) -> Option<&str> {
    let rest = comment.strip_prefix("# Generated by ")?;
    Some(rest.rsplit_once(" on ").map_or(rest, |(g, _)| g))
}

/// The family a generator writes: `ip6tables...` is IPv6, `iptables...` IPv4.
pub fn generator_family(generator: &str) -> Option<Family> {
    if generator.starts_with("ip6tables") {
        Some(Family::V6)
    } else if generator.starts_with("iptables") {
        Some(Family::V4)
    } else {
        None
    }
}

/// The release a generator names: `iptables-nft-save v1.8.9 (nf_tables)` -> (1, 8, 9).
/// Missing parts count as 0 (`v1.8` is 1.8.0); `None` when there is no `vN...` word.
pub fn generator_version(generator: &str) -> Option<(u16, u16, u16)> {
    let word = generator.split_ascii_whitespace().find_map(|w| {
        w.strip_prefix('v')
            .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
    })?;
    let mut parts = word.split('.').map(|p| {
        let digits = p
            .find(|c: char| !c.is_ascii_digit())
            .map_or(p, |end| &p[..end]);
        digits.parse::<u16>().ok()
    });
    let major = parts.next().flatten()?;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(line: &str) -> Rule<'_> {
        match parse_line(line) {
            Line::Rule(r) => r,
            other => panic!("not a rule: {other:?}"),
        }
    }

    #[test]
    fn base_options_and_negation() {
        let r = rule(
            "[3:180] -A DOCKER -d 10.0.0.0/8 ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80",
        );
        assert_eq!(r.chain, "DOCKER");
        assert_eq!(
            r.counters,
            Counters {
                packets: 3,
                bytes: 180
            }
        );
        assert_eq!(r.destination.unwrap().value, "10.0.0.0/8");
        assert!(r.in_interface.unwrap().negated);
        assert_eq!(r.protocol.unwrap().value, "tcp");
        assert_eq!(r.matches[0].name, "tcp");
        assert_eq!(r.matches[0].option("dport").unwrap().value, "8080");
        let t = r.target.unwrap();
        assert_eq!((t.name, t.goto), ("DNAT", false));
        assert_eq!(t.option("to-destination").unwrap().value, "172.17.0.2:80");
    }

    #[test]
    fn the_other_base_options_and_stray_words() {
        let r = rule("-A FORWARD -s 10.0.0.1/32 ! -o docker0 ! -f -c 5 300 -j ACCEPT");
        assert_eq!(
            r.source,
            Some(Neg {
                negated: false,
                value: "10.0.0.1/32"
            })
        );
        assert_eq!(
            r.out_interface,
            Some(Neg {
                negated: true,
                value: "docker0"
            })
        );
        assert_eq!(r.fragment, Some(true));
        assert_eq!(
            r.counters,
            Counters {
                packets: 5,
                bytes: 300
            }
        );
        assert!(r.extra.is_empty(), "{:?}", r.extra);
        assert_eq!(rule("-A X --fragment -j RETURN").fragment, Some(false));
        assert_eq!(rule("-A X -j RETURN").fragment, None);
        // words that are no option stay as they are, in their order
        let r = rule("-A X stray -- -j RETURN");
        assert_eq!(r.extra, vec!["stray", "--"]);
        assert!(r.matches.is_empty());
        assert_eq!(r.target_name(), "RETURN");
    }

    #[test]
    fn long_names_of_the_base_options() {
        let r = rule(
            "-A X --source 1.2.3.4 ! --destination 5.6.7.8 --in-interface eth0 --out-interface eth1 --protocol udp --fragment --set-counters 7 8 --match udp --dport 53 --match comment --comment hi --jump DNAT --to-destination 9.9.9.9:53",
        );
        let plain = |value| {
            Some(Neg {
                negated: false,
                value,
            })
        };
        assert_eq!(r.source, plain("1.2.3.4"));
        assert_eq!(
            r.destination,
            Some(Neg {
                negated: true,
                value: "5.6.7.8"
            })
        );
        assert_eq!(r.in_interface, plain("eth0"));
        assert_eq!(r.out_interface, plain("eth1"));
        assert_eq!(r.protocol, plain("udp"));
        assert_eq!(r.fragment, Some(false));
        assert_eq!(
            r.counters,
            Counters {
                packets: 7,
                bytes: 8
            }
        );
        let names: Vec<&str> = r.matches.iter().map(|m| m.name).collect();
        assert_eq!(names, ["udp", "comment"]);
        assert_eq!(r.matches[0].option("dport").unwrap().value, "53");
        assert_eq!(r.comments().collect::<Vec<_>>(), ["hi"]);
        let t = r.target.as_ref().unwrap();
        assert_eq!((t.name, t.goto), ("DNAT", false));
        assert_eq!(t.option("to-destination").unwrap().value, "9.9.9.9:53");
        assert!(r.extra.is_empty(), "{:?}", r.extra);
        let r = rule("-A X --src 1.2.3.4 --dst 5.6.7.8 --goto Y");
        assert_eq!(
            (r.source, r.destination),
            (plain("1.2.3.4"), plain("5.6.7.8"))
        );
        assert!(r.target.unwrap().goto);
    }

    #[test]
    fn options_take_their_own_number_of_words() {
        // a flag takes none, --tcp-flags two, others up to the next option
        let r = rule(
            "-A X -p tcp -m tcp --tcp-flags FIN,SYN SYN stray --syn lone -m foo --bar a b -j MASQUERADE --random-fully after",
        );
        let m = &r.matches[0];
        assert_eq!(m.option("tcp-flags").unwrap().value, "FIN,SYN SYN");
        assert_eq!(m.option("syn").unwrap().value, "");
        assert_eq!(r.matches[1].option("bar").unwrap().value, "a b");
        let t = r.target.as_ref().unwrap();
        assert_eq!(t.option("random-fully").unwrap().value, "");
        assert_eq!(r.extra, vec!["stray", "lone", "after"]);
        // quoted words of a value lose their quotes, however many there are
        let r = rule(r#"-A X -m foo --bar "x y" z --qux "a" "b" -j RETURN"#);
        assert_eq!(r.matches[0].option("bar").unwrap().value, "x y z");
        assert_eq!(r.matches[0].option("qux").unwrap().value, "a b");
        // a closing quote ends a word, as in iptables-restore: `a""b c` is three words
        let r = rule(r#"-A X -m foo --bar a""b c -j RETURN"#);
        assert_eq!(r.matches[0].option("bar").unwrap().value, "a b c");
    }

    #[test]
    fn only_appends_are_rules_and_only_commit_commits() {
        // positive controls: the same lines as appends
        assert_eq!(rule("-A X -j RETURN").chain, "X");
        assert_eq!(rule("--append X -j RETURN").chain, "X");
        for not in ["-I X -j RETURN", "-D X -j RETURN", "[1:2] -N X", "-N X"] {
            assert_eq!(parse_rule(not), None, "{not}");
            assert_eq!(parse_line(not), Line::Other(not), "{not}");
        }
        assert_eq!(parse_line("COMMIT"), Line::Commit);
        for other in ["garbage", "", "COMMITTED", "commit"] {
            assert_eq!(parse_line(other), Line::Other(other), "{other:?}");
        }
    }

    #[test]
    fn quoted_comments_are_unescaped() {
        let r =
            rule(r#"-A X -m comment --comment "a \"b\" \\ \'c\' d" -m comment --comment "" -g Y"#);
        let comments: Vec<&str> = r.comments().collect();
        assert_eq!(comments, vec![r#"a "b" \ 'c' d"#, ""]);
        assert!(r.target.unwrap().goto);
    }

    #[test]
    fn only_berth_and_twelve_hex_digits_name_a_container() {
        assert_eq!(berth_id("berth:0123456789ab"), Some("0123456789ab"));
        for not in [
            "berth:0123456789a",
            "berth:0123456789abc",
            "berth:0123456789ag",
            "berth:zzzzzzzzzzzz",
            "berth:",
            "xberth:0123456789ab",
            "0123456789ab",
        ] {
            assert_eq!(berth_id(not), None, "{not}");
        }
        let r = rule(
            r#"-A X -m comment --comment "berth:short" -m comment --comment berth:0123456789ab -j RETURN"#,
        );
        assert_eq!(r.berth_id(), Some("0123456789ab"));
        assert_eq!(rule("-A X -j RETURN").berth_id(), None);
    }

    #[test]
    fn comment_values_may_look_like_options() {
        let r = rule("-A X -m comment --comment --dport -j RETURN");
        assert_eq!(r.comments().collect::<Vec<_>>(), vec!["--dport"]);
        assert_eq!(r.target_name(), "RETURN");
    }

    #[test]
    fn multi_word_options() {
        let r = rule("-A X -p tcp -m tcp ! --tcp-flags FIN,SYN SYN -m multiport ! --dports 1,2:3");
        let flags = r.matches[0].option("tcp-flags").unwrap();
        assert!(flags.negated);
        assert_eq!(flags.value, "FIN,SYN SYN");
        assert!(r.target.is_none());
        assert_eq!(r.matches[1].option("dports").unwrap().value, "1,2:3");
    }

    #[test]
    fn chains_and_headers() {
        assert_eq!(
            parse_line(":OUTPUT DROP [1:2]"),
            Line::Chain(ChainDecl {
                name: "OUTPUT",
                policy: Some("DROP"),
                counters: Counters {
                    packets: 1,
                    bytes: 2
                }
            })
        );
        assert_eq!(parse_line("*nat"), Line::Table("nat"));
        assert_eq!(parse_line("COMMIT"), Line::Commit);
        assert_eq!(
            generator("# Generated by iptables-nft-save v1.8.9 (nf_tables) on Thu Nov 26"),
            Some("iptables-nft-save v1.8.9 (nf_tables)")
        );
    }

    #[test]
    fn generator_versions_and_families() {
        assert_eq!(
            generator_version("iptables-nft-save v1.8.9 (nf_tables)"),
            Some((1, 8, 9))
        );
        assert_eq!(
            generator_version("ip6tables-legacy-save v1.8.11 (legacy)"),
            Some((1, 8, 11))
        );
        assert_eq!(generator_version("iptables-save v1.6.1"), Some((1, 6, 1)));
        assert_eq!(generator_version("iptables-save v1.8"), Some((1, 8, 0)));
        assert_eq!(generator_version("iptables-save"), None);
        assert_eq!(generator_version("iptables-save vx"), None);
        assert_eq!(
            generator_family("ip6tables-nft-save v1.8.9 (nf_tables)"),
            Some(Family::V6)
        );
        assert_eq!(generator_family("iptables-save v1.8.9"), Some(Family::V4));
        assert_eq!(generator_family("something"), None);
        let t = Table::parse("# Generated by ip6tables-save v1.8.9 on x\n*nat\nCOMMIT\n");
        assert_eq!(t.family, Family::V6);
        assert_eq!(Table::parse("*nat\nCOMMIT\n").family, Family::V4);
        assert_eq!(Table::parse_family("", Family::V6).family, Family::V6);
    }

    #[test]
    fn table_orders_chains_and_counts_references() {
        let t = Table::parse(
            "*nat\n:POSTROUTING ACCEPT [0:0]\n:b - [0:0]\n:A - [0:0]\n:_x - [0:0]\n\
             -A POSTROUTING -j A\n-A b -g A\n-A A -j b\nCOMMIT\n",
        );
        let names: Vec<&str> = t.chains.iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "PREROUTING",
                "INPUT",
                "OUTPUT",
                "POSTROUTING",
                "A",
                "_x",
                "b"
            ]
        );
        assert_eq!(t.chain("A").unwrap().references, 2);
        assert_eq!(t.chain("b").unwrap().references, 1);
        assert_eq!(t.chain("_x").unwrap().references, 0);
    }

    #[test]
    fn only_the_nat_table_is_read() {
        let t = Table::parse(
            "*filter\n:FORWARD DROP [0:0]\n:F - [0:0]\n-A FORWARD -j F\nCOMMIT\n\
             *nat\n:PREROUTING ACCEPT [0:0]\n:N - [0:0]\n-A PREROUTING -j N\nCOMMIT\n\
             *raw\n:PREROUTING ACCEPT [0:0]\n:R - [0:0]\n-A PREROUTING -j R\nCOMMIT\n",
        );
        // positive control: the nat table's own chain and rule are there
        assert_eq!(t.chain("N").unwrap().references, 1);
        assert_eq!(t.chain("PREROUTING").unwrap().rules.len(), 1);
        for other in ["FORWARD", "F", "R"] {
            assert!(t.chain(other).is_none(), "{other}");
        }
    }

    #[test]
    fn nonsense_never_panics() {
        for line in [
            "",
            "-",
            "-A",
            "[",
            "[1:2]",
            "[x:y] -A X",
            "-A X !",
            "-A X -m",
            "-A X -j",
            "-A X \"unterminated",
            "-A X --",
            "-A X ! ! -s",
            ":",
            "*",
            "-A X -s",
            "-A X --comment \"\\",
            "-A X -c 1",
        ] {
            let _ = parse_line(line);
        }
        let _ = Table::parse("garbage\n\u{0}\n-A\n:X\n");
    }

    #[test]
    fn protocol_numbers() {
        assert_eq!(protocol_number("tcp"), Some(6));
        assert_eq!(protocol_number("gre"), Some(47));
        assert_eq!(protocol_number("253"), Some(253));
        assert_eq!(protocol_number("nope"), None);
    }
}
