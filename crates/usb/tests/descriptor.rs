//! Descriptor parsing never panics, and enumeration of any descriptor
//! bytes ends in a device or an error.

mod common;

use proptest::prelude::*;
use std::sync::Arc;
use usb::descriptor::{parse_config_header, parse_configuration, parse_device};
use usb::host::HostController;
use usb::urb::UrbPool;

proptest! {
    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_device(&bytes);
        let _ = parse_config_header(&bytes);
        let _ = parse_configuration(&bytes);
    }

    #[test]
    fn mutated_configurations_parse_or_fail_cleanly(
        flips in proptest::collection::vec((0usize..64, any::<u8>()), 1..4)
    ) {
        let mut c = common::config_descriptor();
        for (at, v) in flips {
            let n = c.len();
            c[at % n] = v;
        }
        if let Ok(conf) = parse_configuration(&c) {
            prop_assert_eq!(usize::from(conf.total_length), c.len());
        }
    }

    #[test]
    fn enumeration_of_random_descriptors_never_panics(
        dev in proptest::collection::vec(any::<u8>(), 0..24),
        conf in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let host = HostController::new(UrbPool::new());
        let d = common::Loopback::new();
        d.state().faults.device_descriptor = Some(dev);
        d.state().faults.config_descriptor = Some(conf);
        let _ = host.attach(d);
        // Whatever happened, a good device can be attached afterwards
        // unless the random one was accepted.
        if !host.is_present() {
            prop_assert!(host.attach(common::Loopback::new()).is_ok());
        }
        let _ = Arc::new(host);
    }
}
