//! Feeds arbitrary bytes to the whole front end: lexer, parser, checker and
//! diagnostic rendering must never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (lib, mut diags) = tingu::Library::from_source("fuzz.tingu", &text);
    let checked = tingu::check(&lib);
    diags.extend(checked.diagnostics);
    let _ = diags.render(&lib.sources, false);
    if let Some(model) = checked.model {
        for p in &model.protocols {
            let _ = tingu::graph::protocol_dot(&model, p);
        }
    }
});
