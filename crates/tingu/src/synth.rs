//! Synthetic specs: random valid protocols for property tests, and large
//! ones for the `tingu` benchmark. Every spec produced here checks with no
//! diagnostics at all; the property test in `tests/synth.rs` holds it to that.
//!
//! Shape of a generated protocol (the chain guarantees reachability, exits
//! and termination; the wrapper super-state accepts every dependency message
//! everywhere, so there are no dependency dead ends):
//!
//! ```text
//!  ● ─▶ ┌ main ─────────────────────────────────────────────┐
//!       │ (internal: ?poke / n += 1, dep.m / ..., [n > 0] ..) │
//!       │  ● ─▶ s0 ─?m0─▶ s1 ─!m1─▶ ┌ g2 ──────────┐ ─▶ ...   │ ─!mK─▶ ◉ done
//!       │                          │ ● ─▶ s2 ─▶ s3 │          │
//!       │                          └──────────────┘          │
//!       └─────────────────────────────────────────────────────┘
//! ```

use std::fmt::Write;

/// A small deterministic pseudo-random generator (xorshift64*).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value, zero included).
    pub fn new(seed: u64) -> Rng {
        // splitmix64 of the seed, so that every bit of it matters.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

/// Parameters of a generated protocol.
#[derive(Clone, Debug)]
pub struct Shape {
    /// Protocol name.
    pub name: String,
    /// Number of leaf states on the chain.
    pub leaves: usize,
    /// Number of messages (at least 2).
    pub messages: usize,
    /// Leaves per super-state group (1 = no grouping).
    pub group: usize,
    /// A dependency to name: `(protocol, its message names)`.
    pub dependency: Option<(String, Vec<String>)>,
}

/// Writes one protocol of the given shape.
pub fn protocol(rng: &mut Rng, shape: &Shape) -> String {
    let mut s = String::new();
    let messages = shape.messages.max(2);
    let dir = |i: usize| if i.is_multiple_of(2) { "in" } else { "out" };
    let sigil = |i: usize| if i.is_multiple_of(2) { "?" } else { "!" };
    let _ = writeln!(
        s,
        "/// A generated protocol with {} leaf states.",
        shape.leaves
    );
    let _ = writeln!(s, "protocol {} {{", shape.name);
    if let Some((dep, _)) = &shape.dependency {
        let _ = writeln!(s, "dependencies:\n    {dep} d;");
    }
    let _ = writeln!(s, "messages:");
    for i in 0..messages {
        let conc = if rng.chance(20) { "concurrent " } else { "" };
        let _ = writeln!(s, "    {conc}{} m{i}(u32 x, level_t l);", dir(i));
    }
    let _ = writeln!(s, "    in poke();");
    let _ = writeln!(s, "variables:\n    u32 n = 0;\n    level_t last = L0;");
    let _ = writeln!(s, "states:");
    let _ = writeln!(s, "    initial state main {{");
    // Internal transitions on the wrapper: counted pokes, dependency messages.
    let _ = writeln!(s, "        ?poke [n < 1000] / n += 1;");
    let _ = writeln!(s, "        ?poke [n >= 1000] / n = 0, last = L0;");
    if let Some((_, dep_messages)) = &shape.dependency {
        for m in dep_messages {
            let _ = writeln!(s, "        d.{m};");
        }
    }
    let used_all = shape.leaves >= messages;
    if !used_all {
        for i in shape.leaves..messages {
            let _ = writeln!(s, "        {}m{i}(x, l) [x > 0] / last = l;", sigil(i));
            let _ = writeln!(s, "        {}m{i}(x, _) [x == 0];", sigil(i));
        }
    }
    let group = shape.group.max(1);
    let mut i = 0;
    while i < shape.leaves {
        let grouped = group > 1 && shape.leaves - i >= 2;
        let end = if grouped {
            (i + group).min(shape.leaves)
        } else {
            i + 1
        };
        let indent = if grouped { "            " } else { "        " };
        if grouped {
            let timeout = if rng.chance(30) {
                format!(" [{}s]", 1 + rng.below(9))
            } else {
                String::new()
            };
            let init = if i == 0 { "initial " } else { "" };
            let _ = writeln!(s, "        {init}state g{i}{timeout} {{");
        }
        for leaf in i..end {
            let init = if leaf == i && (grouped || leaf == 0) {
                "initial "
            } else {
                ""
            };
            let timeout = if rng.chance(25) {
                format!(" [{}ms]", 10 + rng.below(990))
            } else {
                String::new()
            };
            let msg = leaf % messages;
            let next = if leaf + 1 == shape.leaves {
                "done".to_string()
            } else {
                format!("s{}", leaf + 1)
            };
            let _ = writeln!(s, "{indent}{init}state s{leaf}{timeout} {{");
            match rng.below(3) {
                0 => {
                    let _ = writeln!(
                        s,
                        "{indent}    {}m{msg}(x, l) [x > 3] / n = x % 7, last = l -> {next};",
                        sigil(msg)
                    );
                    let _ = writeln!(
                        s,
                        "{indent}    {}m{msg}(x, _) [x <= 3] / n += 1;",
                        sigil(msg)
                    );
                }
                1 => {
                    let _ = writeln!(
                        s,
                        "{indent}    {}m{msg}(_, l) [l >= L1 && n != 5] -> {next};",
                        sigil(msg)
                    );
                    let _ = writeln!(s, "{indent}    {}m{msg};", sigil(msg));
                }
                _ => {
                    let _ = writeln!(s, "{indent}    {}m{msg} -> {next};", sigil(msg));
                }
            }
            let _ = writeln!(s, "{indent}}}");
        }
        if grouped {
            let _ = writeln!(s, "        }}");
        }
        i = end;
    }
    let _ = writeln!(s, "    }}");
    let _ = writeln!(s, "    final state done;");
    let _ = writeln!(s, "}}");
    s
}

/// The type declarations generated protocols use.
pub const PRELUDE: &str = "enum level_t { L0, L1, L2, L3 }\n";

/// A random valid spec: one or two protocols (the second depending on the
/// first) and a component with both, from a seed.
pub fn random_spec(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::from(PRELUDE);
    let base = Shape {
        name: "Base".into(),
        leaves: 1 + rng.below(12),
        messages: 2 + rng.below(6),
        group: 1 + rng.below(4),
        dependency: None,
    };
    out.push_str(&protocol(&mut rng, &base));
    let with_dep = rng.chance(60);
    if with_dep {
        let named: Vec<String> = (0..base.messages.max(2))
            .filter(|_| rng.chance(50))
            .map(|i| format!("m{i}"))
            .collect();
        let named = if named.is_empty() {
            vec!["poke".to_string()]
        } else {
            named
        };
        let user = Shape {
            name: "User".into(),
            leaves: 1 + rng.below(10),
            messages: 2 + rng.below(5),
            group: 1 + rng.below(3),
            dependency: Some(("Base".into(), named)),
        };
        out.push_str(&protocol(&mut rng, &user));
        out.push_str("component driver {\nports:\n    Base base;\n    User user;\n}\n");
    } else {
        out.push_str("component driver {\nports:\n    Base base;\n}\n");
    }
    out
}

/// A spec with one protocol of about `states` states (leaves plus groups of
/// 100), for the `tingu` benchmark.
pub fn large_spec(states: usize) -> String {
    let mut rng = Rng::new(states as u64);
    // n leaves in groups of 100 give n + n/100 states, plus `main` and `done`.
    let leaves = (states.saturating_sub(2) * 100) / 101;
    let shape = Shape {
        name: "Large".into(),
        leaves: leaves.max(1),
        messages: 16,
        group: 100,
        dependency: None,
    };
    let mut out = String::from(PRELUDE);
    out.push_str(&protocol(&mut rng, &shape));
    out
}
