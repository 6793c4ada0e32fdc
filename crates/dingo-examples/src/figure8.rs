//! The Dingo paper's Figure 8, the AX88772 driver's transmit loop, written
//! with this runtime on the `asix` component's generated ports (the code
//! shown in docs/runtime.md, compiled here so that it stays true).

use dingo::Io;
use spec_observers::asix::{Asix, Event};
use spec_observers::ethernet_controller::In as Eth;
use spec_observers::lifecycle::In as Lc;
use spec_observers::usb_pipe_client::In as Pipe;

/// Transfers in flight before the driver asks the OS to hold packets.
pub const MAX_IN_FLIGHT: u32 = 4;

/// Why the transmit loop ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The OS disabled the interface.
    Disabled,
    /// The device was unplugged.
    Unplugged,
}

/// The transmit loop: `AWAIT(txPacket, disable, unplugged,
/// pipeXferComplete)`, in a loop. Packets become bulk-out transfers on
/// pipe `bulk_out` (a URB per packet, numbered like the packet); each
/// completed transfer gives its packet back.
pub async fn transmit(io: &mut Io<Asix>, bulk_out: i64) -> Ended {
    let pipe = io.ports.usb.pipe_open_sub(bulk_out);
    let mut in_flight = 0;
    loop {
        let event = io
            .recv(|e| {
                matches!(
                    e,
                    Event::Eth(Eth::TxPacket { .. } | Eth::Disable)
                        | Event::Lc(Lc::Unplugged)
                        | Event::UsbPipeOpen {
                            event: Pipe::TransferComplete { .. },
                            ..
                        }
                )
            })
            .await;
        match event {
            Event::Eth(Eth::TxPacket { packet }) => {
                in_flight += 1;
                if in_flight == MAX_IN_FLIGHT {
                    let _ = io.ports.eth.tx_stop_queue(); // EMIT
                }
                let _ = pipe.transfer(packet);
            }
            Event::UsbPipeOpen {
                event: Pipe::TransferComplete { urb, .. },
                ..
            } => {
                in_flight -= 1;
                let _ = io.ports.eth.tx_packet_done(urb);
                if in_flight == MAX_IN_FLIGHT - 1 {
                    let _ = io.ports.eth.tx_start_queue();
                }
            }
            Event::Lc(Lc::Unplugged) => return Ended::Unplugged,
            _ => return Ended::Disabled,
        }
    }
}
