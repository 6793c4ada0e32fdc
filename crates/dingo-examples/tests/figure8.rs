//! The paper's transmit loop (`dingo_examples::figure8`) inside a driver of
//! the real `asix` component, with the compiled observer of the library
//! specs on every port: packets go out as bulk transfers, come back as
//! `txPacketDone`, and the loop ends on `disable`. Any protocol slip by the
//! driver or by this test's host would be a violation.

use dingo::wire::Wire;
use dingo::{Driver, Io, Observe, Peer, Runtime};
use dingo_examples::figure8::{Ended, MAX_IN_FLIGHT, transmit};
use spec_observers::asix::{Asix, Event};
use spec_observers::ethernet_controller::{In as Eth, Out as EthOut};
use spec_observers::lifecycle::In as Lc;
use spec_observers::usb_pipe_client::{In as Pipe, Out as PipeOut};
use std::sync::{Arc, Mutex};
use tingu_observer::{Config, Policy};

const BULK_OUT: i64 = 3;

struct Tx {
    ended: Arc<Mutex<Option<Ended>>>,
}

impl Driver for Tx {
    type Component = Asix;
    type Shared = ();

    async fn run(self, mut io: Io<Asix>, _: Arc<()>) {
        io.recv(|e| matches!(e, Event::Lc(Lc::Start))).await;
        let _ = io.ports.usb.pipe_open(0x03, BULK_OUT);
        let _ = io.ports.lc.start_complete();
        io.recv(|e| matches!(e, Event::Eth(Eth::Enable))).await;
        let _ = io.ports.eth.enable_complete();
        let why = transmit(&mut io, BULK_OUT).await;
        if let Ok(mut e) = self.ended.lock() {
            *e = Some(why);
        }
        let _ = io.ports.eth.disable_complete();
        std::future::pending::<()>().await;
    }
}

#[test]
fn the_transmit_loop_passes_the_asix_observer() {
    let rt = Runtime::deterministic(8);
    let sent: Arc<Mutex<Vec<Wire>>> = Arc::default();
    let s = sent.clone();
    let host: Peer = Arc::new(move |w| s.lock().unwrap().push(w));
    let ended = Arc::new(Mutex::new(None));
    let mut b = rt.driver(
        Tx {
            ended: ended.clone(),
        },
        (),
    );
    for port in ["lc", "pm", "eth", "usb", "timer"] {
        b = b.connect(port, host.clone()).unwrap();
    }
    let d = b
        .observe(Observe {
            enabled: true,
            config: Config {
                history: 32,
                policy: Policy::Stop,
            },
        })
        .start()
        .unwrap();
    let deliver = |e: Event| {
        d.deliver(e.wire());
        rt.run_until_idle();
    };
    deliver(Event::Lc(Lc::Start));
    deliver(Event::Eth(Eth::Enable));
    // More packets than may be in flight: the driver stops the queue,
    // then restarts it as transfers complete.
    for p in 0..6 {
        deliver(Event::Eth(Eth::TxPacket { packet: 0xA0 + p }));
        if p >= i64::from(MAX_IN_FLIGHT) - 1 {
            deliver(Event::UsbPipeOpen {
                keys: [BULK_OUT],
                event: Pipe::TransferComplete {
                    urb: 0xA0 + p + 1 - i64::from(MAX_IN_FLIGHT),
                    status: 0,
                },
            });
        }
    }
    for urb in 0xA3..=0xA5 {
        deliver(Event::UsbPipeOpen {
            keys: [BULK_OUT],
            event: Pipe::TransferComplete { urb, status: 0 },
        });
    }
    deliver(Event::Eth(Eth::Disable));
    let violations = d.violations();
    assert!(violations.is_empty(), "{}", violations[0]);
    assert_eq!(*ended.lock().unwrap(), Some(Ended::Disabled));
    let sent = sent.lock().unwrap();
    let transfers = sent
        .iter()
        .filter(|w| w.depth == 1 && w.message == PipeOut::Transfer { urb: 0 }.message())
        .count();
    let done = sent
        .iter()
        .filter(|w| w.port == 2 && w.message == EthOut::TxPacketDone { packet: 0 }.message())
        .count();
    let stops = sent
        .iter()
        .filter(|w| w.port == 2 && w.message == EthOut::TxStopQueue.message())
        .count();
    assert_eq!((transfers, done), (6, 6));
    assert!(
        stops >= 1,
        "the queue was stopped at {MAX_IN_FLIGHT} in flight"
    );
    drop(sent);
    // The observer is watching: a packet after `disable` is the
    // environment's violation, and (policy Stop) stops the driver.
    deliver(Event::Eth(Eth::TxPacket { packet: 0xFF }));
    let v = d.violations();
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].blame, tingu_observer::Blame::Environment);
    assert!(d.is_stopped());
}
