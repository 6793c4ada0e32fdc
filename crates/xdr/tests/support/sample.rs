//! Deterministic sample values for the types of a resolved `.x` model,
//! rendered twice: as a Rust expression of the generated types, and as C
//! statements that build the same value in rpcgen's types. `build.rs`
//! includes this file and writes both sides for `tests/rpcgen.rs`.

use crate::idl::model::{Decl, Disc, Model, Ty, TypeKind};

/// One value of one type.
pub struct Sample {
    /// `type#seed`.
    pub name: String,
    /// The Rust type's name.
    pub rust_type: String,
    /// A Rust expression of that type.
    pub rust: String,
    /// C statements that fill [`ROOT`], of the C type named like the XDR type.
    pub c_fill: String,
    /// The C expression to pass to `xdr_<type>` (`&v`, or `v` for arrays, where `v` is [`ROOT`]).
    pub c_arg: String,
    /// The XDR type's name.
    pub xdr_type: String,
}

/// The C variable that holds the value.
pub const ROOT: &str = "xdrtest_v";

/// Past this depth, optional data is absent and arrays are empty.
const MAX_DEPTH: usize = 4;

struct Rng(u64);

impl Rng {
    /// splitmix64.
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

struct Gen<'m> {
    m: &'m Model,
    rng: Rng,
    c: String,
}

/// `count` samples of every type of the model.
pub fn samples(m: &Model, count: u64) -> Vec<Sample> {
    let mut out = Vec::new();
    for (id, t) in m.types.iter().enumerate() {
        for seed in 0..count {
            let mut g = Gen {
                m,
                rng: Rng((id as u64) << 32 | seed),
                c: String::new(),
            };
            let rust = g.ty(Ty::Named(id), ROOT, 0);
            let c_arg = match &t.kind {
                TypeKind::Alias(Decl::Fixed(..) | Decl::FixedOpaque(_)) => ROOT.to_string(),
                _ => format!("&{ROOT}"),
            };
            out.push(Sample {
                name: format!("{}#{seed}", t.xdr_name),
                rust_type: t.rust_name.clone(),
                rust,
                c_fill: g.c,
                c_arg,
                xdr_type: t.xdr_name.clone(),
            });
        }
    }
    out
}

fn rust_f32(v: f32) -> String {
    format!("{v:?}_f32")
}

fn rust_f64(v: f64) -> String {
    format!("{v:?}_f64")
}

impl Gen<'_> {
    fn assign(&mut self, lv: &str, value: &str) {
        self.c.push_str(&format!("    {lv} = {value};\n"));
    }

    fn pick<T: Copy>(&mut self, table: &[T], random: T) -> T {
        let i = self.rng.below(table.len() as u64 + 1) as usize;
        table.get(i).copied().unwrap_or(random)
    }

    /// A value of type `t`, stored in the C lvalue `lv`.
    fn ty(&mut self, t: Ty, lv: &str, depth: usize) -> String {
        match t {
            Ty::Int => {
                let r = self.rng.next() as i32;
                let v = self.pick(&[0, 1, -1, 42, i32::MIN, i32::MAX], r);
                let c = if v == i32::MIN {
                    "(-2147483647-1)".to_string()
                } else {
                    v.to_string()
                };
                self.assign(lv, &c);
                format!("{v}_i32")
            }
            Ty::UInt => {
                let r = self.rng.next() as u32;
                let v = self.pick(&[0, 1, 7, u32::MAX], r);
                self.assign(lv, &format!("{v}U"));
                format!("{v}_u32")
            }
            Ty::Hyper => {
                let r = self.rng.next() as i64;
                let v = self.pick(&[0, -1, 1 << 40, i64::MIN, i64::MAX], r);
                let c = if v == i64::MIN {
                    "(-9223372036854775807LL-1)".to_string()
                } else {
                    format!("{v}LL")
                };
                self.assign(lv, &c);
                format!("{v}_i64")
            }
            Ty::UHyper => {
                let r = self.rng.next();
                let v = self.pick(&[0, 1, u64::MAX, 1 << 63], r);
                self.assign(lv, &format!("{v}ULL"));
                format!("{v}_u64")
            }
            Ty::Float => {
                let mut r = f32::from_bits(self.rng.next() as u32);
                if !r.is_finite() {
                    r = 0.5;
                }
                let v = self.pick(
                    &[0.0, -0.0, 1.5, -2.25, 0.1, f32::MAX, f32::MIN_POSITIVE],
                    r,
                );
                self.assign(lv, &format!("{v:?}f"));
                rust_f32(v)
            }
            Ty::Double => {
                let mut r = f64::from_bits(self.rng.next());
                if !r.is_finite() {
                    r = 0.25;
                }
                let v = self.pick(
                    &[0.0, -0.0, 0.1, -1e300, 6.02214076e23, f64::MIN_POSITIVE],
                    r,
                );
                self.assign(lv, &format!("{v:?}"));
                rust_f64(v)
            }
            Ty::Bool => {
                let v = self.rng.below(2) == 1;
                self.assign(lv, if v { "1" } else { "0" });
                v.to_string()
            }
            Ty::Named(id) => self.named(id, lv, depth),
        }
    }

    fn named(&mut self, id: usize, lv: &str, depth: usize) -> String {
        let t = &self.m.types[id];
        let rust_name = t.rust_name.clone();
        let xdr_name = t.xdr_name.clone();
        match &t.kind {
            TypeKind::Enum(members) => {
                let m = &members[self.rng.below(members.len() as u64) as usize];
                self.assign(lv, &m.xdr_name);
                format!("{rust_name}::{}", m.rust_name)
            }
            TypeKind::Struct(fields) => {
                let mut parts = Vec::new();
                for f in fields {
                    let v = self.decl(
                        &f.decl,
                        &format!("{lv}.{}", f.xdr_name),
                        &f.xdr_name,
                        depth + 1,
                    );
                    parts.push(format!("{}: {v}", f.rust_name));
                }
                format!("{rust_name} {{ {} }}", parts.join(", "))
            }
            TypeKind::Union(u) => {
                let u = u.clone();
                // A discriminant for `default`, if one is left.
                let free: Option<i64> = match u.disc {
                    _ if u.default.is_none() => None,
                    Disc::Int => [7, -3, 100, 12345]
                        .into_iter()
                        .find(|v| u.arms.iter().all(|a| a.value != *v)),
                    Disc::UInt => [7, 100, 12345, 4_000_000_000]
                        .into_iter()
                        .find(|v| u.arms.iter().all(|a| a.value != *v)),
                    Disc::Bool => [0, 1]
                        .into_iter()
                        .find(|v| u.arms.iter().all(|a| a.value != *v)),
                    Disc::Enum(e) => match &self.m.types[e].kind {
                        TypeKind::Enum(members) => members
                            .iter()
                            .map(|m| i64::from(m.value))
                            .find(|v| u.arms.iter().all(|a| a.value != *v)),
                        _ => None,
                    },
                };
                let choices = u.arms.len() as u64 + u64::from(free.is_some());
                let i = self.rng.below(choices) as usize;
                let disc_c = |m: &Model, v: i64| match u.disc {
                    Disc::Enum(e) => match &m.types[e].kind {
                        TypeKind::Enum(members) => members
                            .iter()
                            .find(|x| i64::from(x.value) == v)
                            .map(|x| x.xdr_name.clone())
                            .unwrap_or_default(),
                        _ => String::new(),
                    },
                    Disc::UInt => format!("{v}U"),
                    _ => v.to_string(),
                };
                let payload_lv = |name: &Option<String>| {
                    format!("{lv}.{xdr_name}_u.{}", name.as_deref().unwrap_or(""))
                };
                if let Some(a) = u.arms.get(i) {
                    let c = disc_c(self.m, a.value);
                    self.assign(&format!("{lv}.{}", u.disc_name), &c);
                    if a.decl == Decl::Void {
                        format!("{rust_name}::{}", a.variant)
                    } else {
                        let name = a.decl_name.clone().unwrap_or_default();
                        let v = self.decl(&a.decl, &payload_lv(&a.decl_name), &name, depth + 1);
                        format!("{rust_name}::{}({v})", a.variant)
                    }
                } else {
                    let (Some(d), Some(value)) = (&u.default, free) else {
                        unreachable!("a default choice exists only with a free discriminant");
                    };
                    let c = disc_c(self.m, value);
                    self.assign(&format!("{lv}.{}", u.disc_name), &c);
                    let disc_rust = match u.disc {
                        Disc::Int => format!("{value}_i32"),
                        Disc::UInt => format!("{value}_u32"),
                        Disc::Bool => (value != 0).to_string(),
                        Disc::Enum(e) => {
                            let TypeKind::Enum(members) = &self.m.types[e].kind else {
                                unreachable!()
                            };
                            let m = members
                                .iter()
                                .find(|x| i64::from(x.value) == value)
                                .unwrap();
                            format!("{}::{}", self.m.types[e].rust_name, m.rust_name)
                        }
                    };
                    if d.decl == Decl::Void {
                        format!("{rust_name}::{}({disc_rust})", d.variant)
                    } else {
                        let name = d.decl_name.clone().unwrap_or_default();
                        let v = self.decl(&d.decl, &payload_lv(&d.decl_name), &name, depth + 1);
                        format!("{rust_name}::{}({disc_rust}, {v})", d.variant)
                    }
                }
            }
            TypeKind::Alias(d) => {
                let d = d.clone();
                self.decl(&d, lv, &xdr_name, depth)
            }
            TypeKind::Newtype(d) => {
                let d = d.clone();
                let v = self.decl(&d, lv, &xdr_name, depth);
                format!("{rust_name}({v})")
            }
            TypeKind::Pending => "()".to_string(),
        }
    }

    /// A value of the declaration, stored in `lv`; `cname` names the
    /// `_len`/`_val` members of a variable-length C struct.
    fn decl(&mut self, d: &Decl, lv: &str, cname: &str, depth: usize) -> String {
        match d {
            Decl::Void => "()".to_string(),
            Decl::Plain(t) => self.ty(*t, lv, depth),
            Decl::Fixed(t, n) => {
                let items: Vec<String> = (0..*n)
                    .map(|i| self.ty(*t, &format!("{lv}[{i}]"), depth + 1))
                    .collect();
                format!("[{}]", items.join(", "))
            }
            Decl::Var(t, max) => {
                let len = if depth >= MAX_DEPTH {
                    0
                } else {
                    self.rng.below(u64::from((*max).min(3)) + 1) as usize
                };
                self.assign(&format!("{lv}.{cname}_len"), &len.to_string());
                self.assign(
                    &format!("{lv}.{cname}_val"),
                    &format!("calloc({len} + 1, sizeof(*{lv}.{cname}_val))"),
                );
                let items: Vec<String> = (0..len)
                    .map(|i| self.ty(*t, &format!("{lv}.{cname}_val[{i}]"), depth + 1))
                    .collect();
                format!("::std::vec![{}]", items.join(", "))
            }
            Decl::FixedOpaque(n) => {
                let bytes: Vec<u8> = (0..*n).map(|_| self.rng.next() as u8).collect();
                for (i, b) in bytes.iter().enumerate() {
                    self.assign(&format!("{lv}[{i}]"), &format!("(char){b}"));
                }
                let items: Vec<String> = bytes.iter().map(|b| format!("{b}_u8")).collect();
                format!("[{}]", items.join(", "))
            }
            Decl::VarOpaque(max) => {
                let len = self.rng.below(u64::from((*max).min(7)) + 1) as usize;
                let bytes: Vec<u8> = (0..len).map(|_| self.rng.next() as u8).collect();
                self.assign(&format!("{lv}.{cname}_len"), &len.to_string());
                self.assign(
                    &format!("{lv}.{cname}_val"),
                    &format!("calloc({len} + 1, 1)"),
                );
                for (i, b) in bytes.iter().enumerate() {
                    self.assign(&format!("{lv}.{cname}_val[{i}]"), &format!("(char){b}"));
                }
                let items: Vec<String> = bytes.iter().map(|b| format!("{b}_u8")).collect();
                format!("::std::vec::Vec::<u8>::from([{}])", items.join(", "))
            }
            Decl::String(max) => {
                let len = self.rng.below(u64::from((*max).min(6)) + 1) as usize;
                let s: String = (0..len)
                    .map(|_| (b'a' + self.rng.below(26) as u8) as char)
                    .collect();
                self.assign(lv, &format!("\"{s}\""));
                format!("::std::string::String::from(\"{s}\")")
            }
            Decl::Optional(t) => {
                if depth >= MAX_DEPTH || self.rng.below(3) == 0 {
                    self.assign(lv, "NULL");
                    return "::core::option::Option::None".to_string();
                }
                self.assign(lv, &format!("calloc(1, sizeof(*{lv}))"));
                let v = self.ty(*t, &format!("(*{lv})"), depth + 1);
                if self.m.needs_box(*t) {
                    format!("::core::option::Option::Some(::std::boxed::Box::new({v}))")
                } else {
                    format!("::core::option::Option::Some({v})")
                }
            }
            Decl::Shared(_) => "::xdr::ObjRef::null()".to_string(),
        }
    }
}
