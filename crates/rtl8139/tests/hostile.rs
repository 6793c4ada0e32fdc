//! Bytes from the other domain are not trusted: the nucleus checks every
//! register batch from the decaf driver before doing any of it, and the
//! decaf driver refuses malformed downcalls. Nothing panics.

mod common;

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use rtl8139::proto::op;
use rtl8139::slow::execute_batch;
use rtl8139::{Nucleus, RegBatch, RegOp};

fn nucleus() -> (Arc<Nucleus>, Arc<devices::rtl8139::Rtl8139>) {
    let (backend, model) = common::model_backend(0x10);
    (
        Nucleus::new(
            backend.device.clone(),
            backend.memory.clone(),
            Arc::new(common::Inbox::default()),
        ),
        model,
    )
}

fn batch(ops: &[(u32, u32, u32)]) -> RegBatch {
    RegBatch {
        ops: ops
            .iter()
            .map(|&(op, offset, value)| RegOp { op, offset, value })
            .collect(),
    }
}

#[test]
fn a_batch_with_one_bad_operation_does_nothing() {
    let (n, _) = nucleus();
    // Enable decoding through a good batch first.
    execute_batch(&n, &batch(&[(op::CONFIG_WRITE, 4 | 2 << 24, 7)]), true).unwrap();
    let imr = |n: &Nucleus| n.device().read16(0, 0x3C);
    assert_eq!(imr(&n), 0);
    for bad in [
        (op::READ8, 0x100, 0),                 // past the window
        (op::WRITE32, 0xFE, 0),                // straddles its end
        (99, 0, 0),                            // unknown code
        (op::CONFIG_READ, 0, 3),               // odd size
        (op::CONFIG_WRITE, 0x10 | 4 << 24, 0), // a BAR: the nucleus's
        (op::CONFIG_WRITE, 2 << 24, 0),        // the identity
        (op::READ32, u32::MAX, 0),             // overflowing offset
    ] {
        let b = batch(&[(op::WRITE16, 0x3C, 0xFFFF), bad]);
        assert!(execute_batch(&n, &b, true).is_err(), "{bad:?}");
        assert_eq!(imr(&n), 0, "the good write before {bad:?} was not done");
    }
}

#[test]
fn writes_are_refused_while_the_decaf_side_does_not_own_the_device() {
    let (n, _) = nucleus();
    execute_batch(&n, &batch(&[(op::CONFIG_WRITE, 4 | 2 << 24, 7)]), true).unwrap();
    let err = execute_batch(&n, &batch(&[(op::WRITE8, 0x37, 0)]), false).unwrap_err();
    assert!(err.contains("does not own the device"), "{err}");
    let values = execute_batch(&n, &batch(&[(op::READ16, 0x64, 0)]), false).unwrap();
    assert_eq!(values.values.len(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn random_batches_never_panic(ops in proptest::collection::vec((0u32..12, any::<u32>(), any::<u32>()), 0..40), allowed in any::<bool>()) {
        let (n, _) = nucleus();
        let b = batch(&ops);
        if let Ok(values) = execute_batch(&n, &b, allowed) {
            let reads = ops.iter().filter(|o| op::is_read(o.0)).count();
            prop_assert_eq!(values.values.len(), reads);
            prop_assert!(allowed || ops.iter().all(|o| !op::is_write(o.0)));
        }
    }

    #[test]
    fn random_downcall_bytes_get_a_fault_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), procedure in 0u32..12) {
        let (ours, theirs) = xpc::in_process();
        let server = std::thread::spawn(move || rtl8139::decaf::serve(xpc::Endpoint::new(theirs)));
        let mut ep = xpc::Endpoint::new(ours);
        let r = ep.call(procedure, bytes, Duration::from_secs(5));
        prop_assert!(matches!(r, Err(xpc::XpcError::Fault(_))), "{:?}", r);
        drop(ep);
        server.join().unwrap();
    }
}

#[test]
fn the_decaf_side_cannot_aim_the_chips_dma_or_start_a_transmit() {
    let (n, _) = nucleus();
    execute_batch(&n, &batch(&[(op::CONFIG_WRITE, 4 | 2 << 24, 7)]), true).unwrap();
    let rbstart = 0x30;
    // No rings yet: no DMA address is acceptable.
    assert!(execute_batch(&n, &batch(&[(op::WRITE32, rbstart, 0x10_0000)]), true).is_err());
    let rings = n.alloc_rings().unwrap();
    let rx = rings.rx.addr as u32;
    let tx1 = rings.tx[1].addr as u32;
    execute_batch(&n, &batch(&[(op::WRITE32, rbstart, rx)]), true).unwrap();
    execute_batch(&n, &batch(&[(op::WRITE32, 0x24, tx1)]), true).unwrap();
    for bad in [
        (op::WRITE32, rbstart, rx + 0x1000),          // elsewhere
        (op::WRITE32, 0x24, rings.tx[2].addr as u32), // another buffer
        (op::WRITE8, rbstart + 1, 0),                 // a piece of the address
        (op::WRITE16, 0x22, 0),                       // a piece of TSAD0
        (op::WRITE32, 0x10, 60),                      // TSD0: a transmit
        (op::WRITE8, 0x1F, 0),                        // TSD3's top byte
    ] {
        let err = execute_batch(&n, &batch(&[bad]), true).unwrap_err();
        assert!(err.contains("DMA") || err.contains("TSD"), "{bad:?}: {err}");
    }
    assert_eq!(n.device().read32(0, rbstart), rx, "unchanged");
}
