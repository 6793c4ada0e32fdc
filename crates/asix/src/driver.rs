//! The Dingo AX88772 driver: component `asix` (specs/asix.tingu) on its
//! generated ports, one event at a time, in plain sequential `async` code.
//! No lock, no atomic, no blocking call: the runtime delivers its messages
//! one at a time, and waiting for the chip is `await`.
//!
//! ```text
//!   lc.start ─▶ open pipes ─▶ probe (MAC, PHY id, chip code) ─▶ hardware reset
//!          (Linux 6.1 order, paced by the timer port) ─▶ PHY powered down ─▶ startComplete
//!
//!   running:  eth.enable  ─▶ node id, RX_CTL, medium; PHY up, autonegotiate;
//!                            post the status URB and the bulk-IN URBs ─▶ enableComplete
//!             txPacket    ─▶ frame into a free bulk-OUT URB ─▶ transfer
//!                            (the last free URB: txStopQueue)
//!             bulk-OUT done ─▶ txPacketDone / txPacketAbort (and txStartQueue)
//!             bulk-IN done  ─▶ deframe ─▶ rxPacket per frame; repost
//!             status packet, or the PHY poll (timer) ─▶ medium mode, linkUp / linkDown
//!             pm.sleep    ─▶ stop the queue, abort the data pipes, usb.suspend
//!             pm.wakeup   ─▶ usb.resume, new pipes, re-open, txStartQueue
//!             eth.disable ─▶ receiver off, wait for every packet ─▶ disableComplete
//!   lc.stop, lc.unplugged, usb.unplugged (any time, even mid-probe):
//!             cancel the timer, abort every pipe, give every packet back,
//!             stopComplete, wait for the bus's unplugged
//! ```
//!
//! Control transfers are CALLs: the driver sends the transfer and waits for
//! its completion, or for an unplug (which ends the wait with an error).
//! Everything else that arrives meanwhile waits in the inbox, in order.

use crate::framing::{self, RxDeframer};
use crate::regs::{self, ep};
use dingo::{Driver, Io};
use dingo_host::PacketPool;
use spec_observers::asix::{Asix, Event};
use spec_observers::ethernet_controller::In as Eth;
use spec_observers::lifecycle::In as Lc;
use spec_observers::power_management::In as Pm;
use spec_observers::timer::Out as Timer;
use spec_observers::usb_interface_client::In as Usb;
use spec_observers::usb_pipe_client::In as Pipe;
use std::collections::HashMap;
use std::sync::Arc;
use usb::{SetupPacket, UrbId, UrbPool};

/// Transmit URBs, and so the most packets the driver holds before it stops
/// the queue. The host must send no more than this many unreturned packets
/// (`NetHost`'s `tx_limit`).
pub const TX_QUEUE_LEN: usize = 8;

/// Bulk-IN URBs kept posted by default: 8 × 16 KiB, about 10 ms of
/// full-size frames at 100 Mb/s on top of the chip's 16 KiB FIFO (usbnet
/// posts 44 × 2 KiB, about the same memory).
pub const RX_QUEUE_LEN: usize = 8;

/// A protocol bug to put into the driver, to see the observer catch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// On `stop`, answer `stopComplete` at once, before giving back the
    /// packets still in flight (the Lifecycle allows it, the
    /// EthernetController's `[tx_pending == 0]` does not).
    StopWithPacketsInFlight,
    /// On `disable`, leave the receiver running and keep delivering the
    /// frames it receives (`rxPacket` is legal only while enabled).
    RxWhileDisabled,
}

/// How the driver is set up.
#[derive(Clone)]
pub struct Config {
    /// The OS's packet buffers.
    pub packets: Arc<PacketPool>,
    /// The bus's URB buffers.
    pub urbs: UrbPool,
    /// Bulk-IN URBs kept posted while enabled.
    pub rx_urbs: usize,
    /// The chip's pauses (reset, PHY power-up) in percent of Linux's; 0
    /// makes each 1 ms (the model needs no pause; a real chip does).
    pub delay_percent: u32,
    /// The PHY poll period in milliseconds (phylib polls every second).
    pub poll_ms: u32,
    /// A protocol bug to inject.
    pub bug: Option<Bug>,
}

impl Config {
    /// Linux's timing, `RX_QUEUE_LEN` receive URBs, no bug.
    pub fn new(packets: Arc<PacketPool>, urbs: UrbPool) -> Config {
        Config {
            packets,
            urbs,
            rx_urbs: RX_QUEUE_LEN,
            delay_percent: 100,
            poll_ms: 1000,
            bug: None,
        }
    }
}

/// The driver (give it to `Runtime::driver`).
pub struct Ax88772 {
    config: Config,
}

impl Ax88772 {
    /// A driver with `config`.
    pub fn new(config: Config) -> Ax88772 {
        Ax88772 { config }
    }
}

/// Why a sequence stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Abort {
    /// The device or the driver is going away (lc.stop, lc.unplugged or
    /// usb.unplugged arrived): tear down.
    Leaving,
    /// A transfer failed with this status.
    Failed(i32),
}

/// Which pipe a key names: keys are `generation * 4 + kind`, so pipes
/// reopened after a resume get fresh keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Control = 0,
    Status = 1,
    BulkIn = 2,
    BulkOut = 3,
}

fn kind_of(key: i64) -> Kind {
    match key.rem_euclid(4) {
        0 => Kind::Control,
        1 => Kind::Status,
        2 => Kind::BulkIn,
        _ => Kind::BulkOut,
    }
}

/// The driver's whole state: plain data, touched only by its task.
struct State {
    cfg: Config,
    /// Pipe keys of the current generation.
    generation: i64,
    /// Pipes open (not yet aborted).
    open: Vec<i64>,
    ctrl_urb: Option<UrbId>,
    status_urb: Option<UrbId>,
    status_posted: bool,
    rx_urbs: Vec<UrbId>,
    rx_posted: usize,
    tx_free: Vec<UrbId>,
    tx_busy: HashMap<i64, i64>,
    deframer: RxDeframer,
    tx_buf: Vec<u8>,
    pkt_buf: Vec<u8>,
    mac: [u8; 6],
    phy: u8,
    enabled: bool,
    queue_stopped: bool,
    asleep: bool,
    link: Option<(u32, bool)>,
    timer_armed: bool,
    /// A status packet reported a link change: poll the PHY.
    link_check: bool,
    /// lc.stop or lc.unplugged has arrived.
    lc_ending: bool,
    /// The bus said unplugged.
    usb_gone: bool,
    rx_packets: u64,
    tx_packets: u64,
    rx_dropped: u64,
}

fn key(s: &State, kind: Kind) -> i64 {
    s.generation * 4 + kind as i64
}

/// Whether an event means the driver must leave.
fn is_leaving(e: &Event) -> bool {
    matches!(
        e,
        Event::Lc(Lc::Stop | Lc::Unplugged) | Event::Usb(Usb::Unplugged)
    )
}

fn note_leaving(s: &mut State, e: &Event) {
    match e {
        Event::Lc(Lc::Stop | Lc::Unplugged) => s.lc_ending = true,
        Event::Usb(Usb::Unplugged) => s.usb_gone = true,
        _ => {}
    }
}

/// The completion of a transfer on pipe kind `kind`.
fn completion(e: &Event, kind: Kind) -> Option<(i64, i64, i32)> {
    match e {
        Event::UsbPipeOpen {
            keys: [k],
            event: Pipe::TransferComplete { urb, status },
        } if kind_of(*k) == kind => Some((*k, *urb, *status)),
        _ => None,
    }
}

impl Driver for Ax88772 {
    type Component = Asix;
    type Shared = ();

    async fn run(self, mut io: Io<Asix>, _: Arc<()>) {
        let cfg = self.config;
        let mut s = State {
            cfg,
            generation: 0,
            open: Vec::new(),
            ctrl_urb: None,
            status_urb: None,
            status_posted: false,
            rx_urbs: Vec::new(),
            rx_posted: 0,
            tx_free: Vec::new(),
            tx_busy: HashMap::new(),
            deframer: RxDeframer::new(),
            tx_buf: Vec::new(),
            pkt_buf: Vec::new(),
            mac: [0; 6],
            phy: regs::EMBEDDED_PHY,
            enabled: false,
            queue_stopped: false,
            asleep: false,
            link: None,
            timer_armed: false,
            link_check: false,
            lc_ending: false,
            usb_gone: false,
            rx_packets: 0,
            tx_packets: 0,
            rx_dropped: 0,
        };
        let first = io
            .recv(|e| matches!(e, Event::Lc(Lc::Start)) || is_leaving(e))
            .await;
        if is_leaving(&first) {
            note_leaving(&mut s, &first);
            leave(&mut io, &mut s, false).await;
            return;
        }
        if !allocate(&mut s) {
            let _ = io.ports.lc.start_failed(-12); // -ENOMEM
            leave(&mut io, &mut s, true).await;
            return;
        }
        open_pipes(&mut io, &mut s);
        match probe(&mut io, &mut s).await {
            Ok(()) => {
                let _ = io.ports.lc.start_complete();
            }
            Err(Abort::Leaving) => {
                leave(&mut io, &mut s, false).await;
                return;
            }
            Err(Abort::Failed(status)) => {
                let _ = io.ports.lc.start_failed(status);
                leave(&mut io, &mut s, true).await;
                return;
            }
        }
        running(&mut io, &mut s).await;
        leave(&mut io, &mut s, false).await;
    }
}

/// Allocates the URBs.
fn allocate(s: &mut State) -> bool {
    let urbs = s.cfg.urbs.clone();
    let get = |n: usize| urbs.alloc(n).ok();
    let Some(ctrl) = get(8 + 64) else {
        return false;
    };
    s.ctrl_urb = Some(ctrl);
    s.status_urb = get(regs::STATUS_LEN);
    for _ in 0..s.cfg.rx_urbs.max(1) {
        match get(regs::RX_URB_SIZE) {
            Some(u) => s.rx_urbs.push(u),
            None => return false,
        }
    }
    for _ in 0..TX_QUEUE_LEN {
        match get(framing::MAX_FRAME + 8) {
            Some(u) => s.tx_free.push(u),
            None => return false,
        }
    }
    s.status_urb.is_some()
}

fn open_pipes(io: &mut Io<Asix>, s: &mut State) {
    for (kind, endpoint) in [
        (Kind::Control, ep::CONTROL),
        (Kind::Status, ep::INTERRUPT),
        (Kind::BulkIn, ep::BULK_IN),
        (Kind::BulkOut, ep::BULK_OUT),
    ] {
        let k = key(s, kind);
        if io.ports.usb.pipe_open(endpoint, k).is_ok() {
            s.open.push(k);
        }
    }
}

/// Waits `ms` of Linux's timing (scaled by `delay_percent`) on the timer
/// port.
async fn pause(io: &mut Io<Asix>, s: &mut State, ms: u32) -> Result<(), Abort> {
    let ms = (u64::from(ms) * u64::from(s.cfg.delay_percent) / 100).max(1) as u32;
    if io.ports.timer.arm(ms).is_err() {
        return Err(Abort::Leaving);
    }
    s.timer_armed = true;
    let e = io
        .recv(|e| matches!(e, Event::Timer(Timer::Fired)) || is_leaving(e))
        .await;
    if is_leaving(&e) {
        note_leaving(s, &e);
        return Err(Abort::Leaving);
    }
    s.timer_armed = false;
    Ok(())
}

/// One control transfer (a CALL): the SETUP packet, `data` for a write,
/// `read` bytes back for a read.
async fn control(
    io: &mut Io<Asix>,
    s: &mut State,
    setup: SetupPacket,
    data: &[u8],
) -> Result<Vec<u8>, Abort> {
    let urb = s.ctrl_urb.ok_or(Abort::Failed(-12))?;
    let pool = s.cfg.urbs.clone();
    let stage = usize::from(setup.length).max(data.len());
    let filled = pool
        .write(urb, 0, &setup.to_bytes())
        .and_then(|_| pool.write(urb, 8, data))
        .and_then(|_| pool.set_length(urb, 8 + stage));
    if filled.is_err() {
        return Err(Abort::Failed(-14));
    }
    let pipe = io.ports.usb.pipe_open_sub(key(s, Kind::Control));
    if pipe.transfer(urb.raw()).is_err() {
        return Err(Abort::Leaving);
    }
    loop {
        let e = io
            .recv(|e| completion(e, Kind::Control).is_some() || is_leaving(e) || is_data(e))
            .await;
        if data_path(io, s, &e) {
            continue;
        }
        if is_leaving(&e) {
            note_leaving(s, &e);
            // The transfer is still in flight: `leave` aborts the pipe and
            // collects its completion.
            return Err(Abort::Leaving);
        }
        let Some((_, done, status)) = completion(&e, Kind::Control) else {
            continue;
        };
        if done != urb.raw() {
            continue;
        }
        if status != 0 {
            return Err(Abort::Failed(status));
        }
        if !setup.is_in() {
            return Ok(Vec::new());
        }
        let got = pool.actual_length(urb).unwrap_or(0);
        // Linux 6.1 treats a short read as an error (-ENODATA).
        if got < usize::from(setup.length) {
            return Err(Abort::Failed(-61));
        }
        return pool
            .read(urb, 8, usize::from(setup.length))
            .map_err(|_| Abort::Failed(-14));
    }
}

async fn vendor_read(
    io: &mut Io<Asix>,
    s: &mut State,
    request: u8,
    value: u16,
    index: u16,
    length: u16,
) -> Result<Vec<u8>, Abort> {
    let setup = SetupPacket {
        request_type: regs::VENDOR_IN,
        request,
        value,
        index,
        length,
    };
    control(io, s, setup, &[]).await
}

async fn vendor_write(
    io: &mut Io<Asix>,
    s: &mut State,
    request: u8,
    value: u16,
    index: u16,
    data: &[u8],
) -> Result<(), Abort> {
    let setup = SetupPacket {
        request_type: regs::VENDOR_OUT,
        request,
        value,
        index,
        length: data.len() as u16,
    };
    control(io, s, setup, data).await.map(|_| ())
}

/// Takes the MDIO bus: SET_SW_MII, then poll Host_EN (up to 30 times).
async fn mdio_take(io: &mut Io<Asix>, s: &mut State) -> Result<(), Abort> {
    for _ in 0..30 {
        vendor_write(io, s, regs::SET_SW_MII, 0, 0, &[]).await?;
        let st = vendor_read(io, s, regs::STATMNGSTS_REG, 0, 0, 1).await?;
        if st.first().is_some_and(|b| b & 1 != 0) {
            return Ok(());
        }
    }
    Err(Abort::Failed(-110)) // -ETIMEDOUT
}

/// Reads PHY register `reg` (device-facts §2.6).
async fn mdio_read(io: &mut Io<Asix>, s: &mut State, reg: u16) -> Result<u16, Abort> {
    mdio_take(io, s).await?;
    let phy = u16::from(s.phy);
    let v = vendor_read(io, s, regs::READ_MII_REG, phy, reg, 2).await?;
    vendor_write(io, s, regs::SET_HW_MII, 0, 0, &[]).await?;
    Ok(u16::from_le_bytes([v[0], v[1]]))
}

/// Writes PHY register `reg`.
async fn mdio_write(io: &mut Io<Asix>, s: &mut State, reg: u16, value: u16) -> Result<(), Abort> {
    mdio_take(io, s).await?;
    let phy = u16::from(s.phy);
    vendor_write(io, s, regs::WRITE_MII_REG, phy, reg, &value.to_le_bytes()).await?;
    vendor_write(io, s, regs::SET_HW_MII, 0, 0, &[]).await
}

/// Probe and hardware reset, in Linux 6.1's order (device-facts §2.10).
async fn probe(io: &mut Io<Asix>, s: &mut State) -> Result<(), Abort> {
    // usbnet_get_endpoints: SET_INTERFACE(0).
    if io.ports.usb.altsetting_select(0).is_err() {
        return Err(Abort::Leaving);
    }
    let e = io
        .recv(|e| matches!(e, Event::Usb(Usb::AltsettingSelectComplete { .. })) || is_leaving(e))
        .await;
    if is_leaving(&e) {
        note_leaving(s, &e);
        return Err(Abort::Leaving);
    }
    if let Event::Usb(Usb::AltsettingSelectComplete { status }) = e
        && status != 0
    {
        return Err(Abort::Failed(status));
    }
    let mac = vendor_read(io, s, regs::READ_NODE_ID, 0, 0, 6).await?;
    s.mac.copy_from_slice(&mac[..6]);
    let phy = vendor_read(io, s, regs::READ_PHY_ID, 0, 0, 2).await?;
    if phy[1] >= 32 {
        return Err(Abort::Failed(-19)); // -ENODEV, as Linux
    }
    s.phy = phy[1];
    let _chip = vendor_read(io, s, regs::STATMNGSTS_REG, 0, 0, 1).await?;
    hardware_reset(io, s).await?;
    // The MDIO bus scan: the PHY's identifier.
    let id1 = mdio_read(io, s, regs::MII_PHYSID1).await?;
    let id2 = mdio_read(io, s, regs::MII_PHYSID2).await?;
    if (u32::from(id1) << 16 | u32::from(id2)) & 0x1FFF_FFFF == 0x1FFF_FFFF {
        return Err(Abort::Failed(-19)); // no PHY
    }
    // phylink: the PHY stays powered down until the interface opens.
    mdio_write(io, s, regs::MII_BMCR, regs::BMCR_PDOWN).await
}

/// `ax88772_hw_reset` for chip code 0 with the embedded PHY.
async fn hardware_reset(io: &mut Io<Asix>, s: &mut State) -> Result<(), Abort> {
    vendor_write(io, s, regs::WRITE_GPIOS, regs::GPIO_772, 0, &[]).await?;
    pause(io, s, 5).await?;
    let embedded = u16::from(s.phy & 0x1F == regs::EMBEDDED_PHY);
    vendor_write(io, s, regs::SW_PHY_SELECT, embedded, 0, &[]).await?;
    vendor_write(io, s, regs::SW_RESET, regs::SW_RESET_IPPD, 0, &[]).await?;
    pause(io, s, 10).await?;
    vendor_write(io, s, regs::SW_RESET, regs::SW_RESET_CLEAR, 0, &[]).await?;
    pause(io, s, 60).await?;
    vendor_write(io, s, regs::SW_RESET, regs::SW_RESET_IPRL_PRL, 0, &[]).await?;
    pause(io, s, 150).await?;
    vendor_write(io, s, regs::WRITE_RX_CTL, regs::RX_CTL_DEFAULT, 0, &[]).await?;
    vendor_write(io, s, regs::WRITE_MEDIUM_MODE, regs::MEDIUM_DEFAULT, 0, &[]).await?;
    let (ipg, ipg2) = regs::IPG;
    vendor_write(io, s, regs::WRITE_IPG0, ipg, ipg2, &[]).await?;
    let mac = s.mac;
    vendor_write(io, s, regs::WRITE_NODE_ID, 0, 0, &mac).await?;
    vendor_write(io, s, regs::WRITE_RX_CTL, regs::RX_CTL_DEFAULT, 0, &[]).await?;
    vendor_read(io, s, regs::READ_RX_CTL, 0, 0, 2).await?;
    vendor_read(io, s, regs::READ_MEDIUM_STATUS, 0, 0, 2).await?;
    Ok(())
}

/// `ax88772_reset` at open, then phylink start: the PHY powers up and
/// autonegotiates.
async fn open_hardware(io: &mut Io<Asix>, s: &mut State) -> Result<(), Abort> {
    let mac = s.mac;
    vendor_write(io, s, regs::WRITE_NODE_ID, 0, 0, &mac).await?;
    vendor_write(io, s, regs::WRITE_RX_CTL, regs::RX_CTL_DEFAULT, 0, &[]).await?;
    vendor_write(io, s, regs::WRITE_MEDIUM_MODE, regs::MEDIUM_DEFAULT, 0, &[]).await?;
    mdio_write(io, s, regs::MII_ADVERTISE, regs::ADVERTISE_ALL).await?;
    mdio_write(
        io,
        s,
        regs::MII_BMCR,
        regs::BMCR_ANENABLE | regs::BMCR_ANRESTART,
    )
    .await
}

/// Posts the status URB and every idle bulk-IN URB.
fn post_receives(io: &mut Io<Asix>, s: &mut State) {
    if !s.status_posted
        && let Some(u) = s.status_urb
        && s.cfg.urbs.set_length(u, regs::STATUS_LEN).is_ok()
        && io
            .ports
            .usb
            .pipe_open_sub(key(s, Kind::Status))
            .transfer(u.raw())
            .is_ok()
    {
        s.status_posted = true;
    }
    while s.rx_posted < s.rx_urbs.len() {
        let u = s.rx_urbs[s.rx_posted];
        if s.cfg.urbs.set_length(u, regs::RX_URB_SIZE).is_err() {
            break;
        }
        let pipe = io.ports.usb.pipe_open_sub(key(s, Kind::BulkIn));
        if pipe.transfer(u.raw()).is_err() {
            break;
        }
        s.rx_posted += 1;
    }
}

/// The interface is up: every event until the driver must leave.
async fn running(io: &mut Io<Asix>, s: &mut State) {
    loop {
        let e = io.next_event().await;
        if is_leaving(&e) {
            note_leaving(s, &e);
            return;
        }
        if data_path(io, s, &e) {
            if s.link_check {
                s.link_check = false;
                if poll_phy(io, s).await == Err(Abort::Leaving) {
                    return;
                }
            }
            continue;
        }
        let step = match e {
            Event::Eth(Eth::Enable) => enable(io, s).await,
            Event::Eth(Eth::Disable) => disable(io, s).await,
            Event::Eth(Eth::SetMulticast { count }) => set_multicast(io, s, count).await,
            Event::Eth(Eth::GetStats) => {
                let _ = io.ports.eth.stats_complete(s.rx_packets, s.tx_packets);
                Ok(())
            }
            Event::Pm(Pm::Sleep { .. }) => sleep(io, s).await,
            Event::Pm(Pm::Wakeup) => wakeup(io, s).await,
            Event::Timer(Timer::Fired) => {
                s.timer_armed = false;
                poll_phy(io, s).await
            }
            // A late completion of an abandoned control transfer, or an
            // answer nobody waits for any more.
            _ => Ok(()),
        };
        match step {
            Ok(()) => {}
            Err(Abort::Leaving) => return,
            // A failed register access at run time: the chip is
            // misbehaving; carry on (Linux logs and carries on too).
            Err(Abort::Failed(_)) => {}
        }
        if s.lc_ending || s.usb_gone {
            return;
        }
    }
}

/// Whether an event belongs to the data path: handled at once, even while
/// the driver waits for a control transfer (as Linux runs its receive
/// tasklet while the PHY state machine sleeps on a control request).
fn is_data(e: &Event) -> bool {
    match e {
        Event::Eth(Eth::TxPacket { .. }) => true,
        Event::UsbPipeOpen {
            keys: [k],
            event: Pipe::TransferComplete { .. },
        } => kind_of(*k) != Kind::Control,
        _ => false,
    }
}

/// Handles a data-path event (see [`is_data`]); false if `e` is not one.
/// A status packet that reports a link change only marks the PHY for a
/// poll, which the main loop does (it needs control transfers).
fn data_path(io: &mut Io<Asix>, s: &mut State, e: &Event) -> bool {
    let (k, urb, status) = match *e {
        Event::Eth(Eth::TxPacket { packet }) => {
            transmit(io, s, packet);
            return true;
        }
        Event::UsbPipeOpen {
            keys: [k],
            event: Pipe::TransferComplete { urb, status },
        } if kind_of(k) != Kind::Control => (k, urb, status),
        _ => return false,
    };
    match kind_of(k) {
        Kind::BulkOut => tx_done(io, s, urb, status),
        Kind::BulkIn => rx_done(io, s, k, urb, status),
        _ => status_done(io, s, k, urb, status),
    }
    true
}

fn status_done(io: &mut Io<Asix>, s: &mut State, pipe: i64, urb: i64, status: i32) {
    s.status_posted = false;
    if status != 0 || !s.enabled || s.asleep || pipe != key(s, Kind::Status) {
        return;
    }
    let data = s.cfg.urbs.read(UrbId(urb), 0, regs::STATUS_LEN);
    let got = s.cfg.urbs.actual_length(UrbId(urb)).unwrap_or(0);
    if let Ok(d) = data
        && got >= regs::STATUS_LEN
        && (d[2] & 1 != 0) != s.link.is_some()
    {
        // The packet only says up or down; the PHY has the speed.
        s.link_check = true;
    }
    post_receives(io, s);
}

async fn enable(io: &mut Io<Asix>, s: &mut State) -> Result<(), Abort> {
    if s.asleep {
        let _ = io.ports.eth.enable_failed(-113); // -EHOSTUNREACH
        return Ok(());
    }
    match open_hardware(io, s).await {
        Ok(()) => {}
        Err(Abort::Failed(status)) => {
            let _ = io.ports.eth.enable_failed(status);
            return Ok(());
        }
        Err(leaving) => return Err(leaving),
    }
    s.enabled = true;
    s.queue_stopped = false;
    s.link = None;
    s.deframer.reset();
    post_receives(io, s);
    let _ = io.ports.eth.enable_complete();
    poll_phy(io, s).await
}

async fn disable(io: &mut Io<Asix>, s: &mut State) -> Result<(), Abort> {
    s.enabled = false;
    let receiver_off = if s.asleep || s.cfg.bug == Some(Bug::RxWhileDisabled) {
        Ok(())
    } else {
        let r = vendor_write(io, s, regs::WRITE_RX_CTL, 0, 0, &[]).await;
        let m = vendor_write(io, s, regs::WRITE_MEDIUM_MODE, 0, 0, &[]).await;
        r.and(m)
    };
    if receiver_off == Err(Abort::Leaving) {
        return Err(Abort::Leaving);
    }
    // Every packet comes back before disableComplete.
    while !s.tx_busy.is_empty() {
        let e = io
            .recv(|e| completion(e, Kind::BulkOut).is_some() || is_leaving(e))
            .await;
        if is_leaving(&e) {
            note_leaving(s, &e);
            return Err(Abort::Leaving);
        }
        if let Some((_, urb, status)) = completion(&e, Kind::BulkOut) {
            tx_done(io, s, urb, status);
        }
    }
    s.link = None;
    let _ = io.ports.eth.disable_complete();
    Ok(())
}

fn transmit(io: &mut Io<Asix>, s: &mut State, packet: i64) {
    let urb = if s.enabled && !s.asleep {
        s.tx_free.pop()
    } else {
        None
    };
    let Some(urb) = urb else {
        let _ = io.ports.eth.tx_packet_abort(packet);
        s.cfg.packets.free(packet);
        return;
    };
    if !s.cfg.packets.read_into(packet, &mut s.pkt_buf) {
        s.tx_free.push(urb);
        let _ = io.ports.eth.tx_packet_abort(packet);
        return;
    }
    framing::encode_tx(&s.pkt_buf, regs::BULK_MAX_PACKET, &mut s.tx_buf);
    let sent = s.cfg.urbs.fill(urb, &s.tx_buf).is_ok()
        && io
            .ports
            .usb
            .pipe_open_sub(key(s, Kind::BulkOut))
            .transfer(urb.raw())
            .is_ok();
    if !sent {
        s.tx_free.push(urb);
        let _ = io.ports.eth.tx_packet_abort(packet);
        return;
    }
    s.tx_busy.insert(urb.raw(), packet);
    if s.tx_free.is_empty() && !s.queue_stopped {
        s.queue_stopped = true;
        let _ = io.ports.eth.tx_stop_queue();
    }
}

fn tx_done(io: &mut Io<Asix>, s: &mut State, urb: i64, status: i32) {
    let Some(packet) = s.tx_busy.remove(&urb) else {
        return;
    };
    s.tx_free.push(UrbId(urb));
    if status == 0 {
        s.tx_packets += 1;
        let _ = io.ports.eth.tx_packet_done(packet);
    } else {
        let _ = io.ports.eth.tx_packet_abort(packet);
    }
    if s.queue_stopped && s.enabled && !s.asleep && !s.lc_ending {
        s.queue_stopped = false;
        let _ = io.ports.eth.tx_start_queue();
    }
}

fn rx_done(io: &mut Io<Asix>, s: &mut State, pipe: i64, urb: i64, status: i32) {
    s.rx_posted = s.rx_posted.saturating_sub(1);
    // Keep the posted URBs at the front of the list.
    if let Some(i) = s.rx_urbs.iter().position(|u| u.raw() == urb) {
        let u = s.rx_urbs.remove(i);
        s.rx_urbs.push(u);
    }
    if status != 0 {
        s.deframer.reset();
        return;
    }
    let deliver = s.enabled || s.cfg.bug == Some(Bug::RxWhileDisabled);
    if let (Ok(n), true) = (s.cfg.urbs.actual_length(UrbId(urb)), deliver)
        && let Ok(data) = s.cfg.urbs.read(UrbId(urb), 0, n)
    {
        let (eth, packets) = (&io.ports.eth, &s.cfg.packets);
        let (mut delivered, mut dropped) = (0, 0);
        let _ = s.deframer.push(&data, |frame| match packets.alloc(frame) {
            Some(p) => {
                let _ = eth.rx_packet(p);
                delivered += 1;
            }
            None => dropped += 1,
        });
        s.rx_packets += delivered;
        s.rx_dropped += dropped;
    }
    if deliver && !s.asleep && !s.lc_ending && pipe == key(s, Kind::BulkIn) {
        post_receives(io, s);
    }
}

/// Polls the PHY (phylib's once-a-second state machine) and reports a link
/// change; re-arms the poll.
async fn poll_phy(io: &mut Io<Asix>, s: &mut State) -> Result<(), Abort> {
    if !s.enabled || s.asleep {
        return Ok(());
    }
    let mut bmsr = mdio_read(io, s, regs::MII_BMSR).await?;
    if s.link.is_none() {
        // Latched low: read again for the current state.
        bmsr = mdio_read(io, s, regs::MII_BMSR).await?;
    }
    let up = bmsr & regs::BMSR_LSTATUS != 0 && bmsr & regs::BMSR_ANEGCOMPLETE != 0;
    if up && s.link.is_none() {
        let lpa = mdio_read(io, s, regs::MII_LPA).await?;
        let (mbps, full, pause) = regs::resolve(lpa, regs::ADVERTISE_ALL);
        vendor_write(
            io,
            s,
            regs::WRITE_MEDIUM_MODE,
            regs::medium_for(mbps, full, pause),
            0,
            &[],
        )
        .await?;
        s.link = Some((mbps, full));
        let _ = io.ports.eth.link_up(mbps);
    } else if !up && s.link.is_some() {
        vendor_write(io, s, regs::WRITE_MEDIUM_MODE, 0, 0, &[]).await?;
        s.link = None;
        let _ = io.ports.eth.link_down();
    }
    if s.enabled && !s.timer_armed && io.ports.timer.arm(s.cfg.poll_ms.max(1)).is_ok() {
        s.timer_armed = true;
    }
    Ok(())
}

async fn set_multicast(io: &mut Io<Asix>, s: &mut State, count: u32) -> Result<(), Abort> {
    // The address list itself stays with the OS; with more than the hash
    // can sensibly hold, accept all multicast (Linux's rule is 64).
    let mut rx_ctl = regs::RX_CTL_DEFAULT;
    if count > 64 {
        rx_ctl |= regs::RX_CTL_AMALL;
    } else if count > 0 {
        rx_ctl |= regs::RX_CTL_AM;
        vendor_write(io, s, regs::WRITE_MULTI_FILTER, 0, 0, &[0xFF; 8]).await?;
    }
    if s.enabled && !s.asleep {
        vendor_write(io, s, regs::WRITE_RX_CTL, rx_ctl, 0, &[]).await?;
    }
    let _ = io.ports.eth.set_multicast_complete();
    Ok(())
}

/// Cancels the timer if armed (a CALL; a `fired` that crossed the cancel is
/// absorbed).
async fn cancel_timer(io: &mut Io<Asix>, s: &mut State) {
    if !s.timer_armed {
        return;
    }
    s.timer_armed = false;
    if io.ports.timer.cancel().is_ok() {
        io.recv(|e| matches!(e, Event::Timer(Timer::CancelComplete)))
            .await;
    }
    // A `fired` that crossed the cancel may still wait in the inbox.
    let _ = io.try_recv(|e| matches!(e, Event::Timer(Timer::Fired)));
}

/// Aborts every open pipe of the current generation but the control pipe
/// (or all of them), handling completions until each says abortComplete.
async fn abort_pipes(io: &mut Io<Asix>, s: &mut State, control_too: bool) {
    let aborting: Vec<i64> = s
        .open
        .iter()
        .copied()
        .filter(|k| control_too || kind_of(*k) != Kind::Control)
        .collect();
    let mut waiting = Vec::new();
    for k in &aborting {
        if io.ports.usb.pipe_open_sub(*k).abort().is_ok() {
            waiting.push(*k);
        }
    }
    s.open.retain(|k| !aborting.contains(k));
    while !waiting.is_empty() {
        let e = io
            .recv(|e| match e {
                Event::UsbPipeOpen {
                    keys: [k],
                    event: Pipe::TransferComplete { .. } | Pipe::AbortComplete,
                } => waiting.contains(k),
                other => is_leaving(other),
            })
            .await;
        match e {
            Event::UsbPipeOpen {
                keys: [k],
                event: Pipe::AbortComplete,
            } => waiting.retain(|w| *w != k),
            Event::UsbPipeOpen { .. } => {
                data_path(io, s, &e);
            }
            other => note_leaving(s, &other),
        }
    }
    s.status_posted = false;
    s.rx_posted = 0;
}

async fn sleep(io: &mut Io<Asix>, s: &mut State) -> Result<(), Abort> {
    if s.asleep {
        let _ = io.ports.pm.sleep_complete();
        return Ok(());
    }
    cancel_timer(io, s).await;
    if s.enabled && !s.queue_stopped {
        s.queue_stopped = true;
        let _ = io.ports.eth.tx_stop_queue();
    }
    // The PHY suspends with the chip: the carrier goes (phylink_suspend).
    if s.enabled && s.link.take().is_some() {
        let _ = io.ports.eth.link_down();
    }
    s.asleep = true;
    abort_pipes(io, s, true).await;
    if s.lc_ending || s.usb_gone {
        return Err(Abort::Leaving);
    }
    if io.ports.usb.suspend().is_err() {
        return Err(Abort::Leaving);
    }
    let e = io
        .recv(|e| matches!(e, Event::Usb(Usb::SuspendComplete)) || is_leaving(e))
        .await;
    if is_leaving(&e) {
        note_leaving(s, &e);
        return Err(Abort::Leaving);
    }
    let _ = io.ports.pm.sleep_complete();
    Ok(())
}

async fn wakeup(io: &mut Io<Asix>, s: &mut State) -> Result<(), Abort> {
    if io.ports.usb.resume().is_err() {
        return Err(Abort::Leaving);
    }
    let e = io
        .recv(|e| matches!(e, Event::Usb(Usb::ResumeComplete)) || is_leaving(e))
        .await;
    if is_leaving(&e) {
        note_leaving(s, &e);
        return Err(Abort::Leaving);
    }
    s.generation += 1;
    open_pipes(io, s);
    s.asleep = false;
    s.deframer.reset();
    if s.enabled {
        s.link = None;
        let reopened = open_hardware(io, s).await;
        if reopened == Err(Abort::Leaving) {
            return Err(Abort::Leaving);
        }
        post_receives(io, s);
    }
    let _ = io.ports.pm.wakeup_complete();
    if s.enabled {
        // The link comes back with the PHY: the poll reports it.
        if s.queue_stopped && !s.tx_free.is_empty() {
            s.queue_stopped = false;
            let _ = io.ports.eth.tx_start_queue();
        }
        poll_phy(io, s).await?;
    }
    Ok(())
}

/// Tears down: the timer, every pipe (their completions give back the
/// packets), `stopComplete` once the OS asked, then waits for the bus's
/// `unplugged` so that every port has ended.
async fn leave(io: &mut Io<Asix>, s: &mut State, start_failed: bool) {
    if s.cfg.bug == Some(Bug::StopWithPacketsInFlight) && !start_failed {
        // The injected bug: answer before the packets are back.
        while !s.lc_ending {
            let e = io.recv(is_leaving).await;
            note_leaving(s, &e);
        }
        let _ = io.ports.lc.stop_complete();
    }
    s.enabled = false;
    cancel_timer(io, s).await;
    abort_pipes(io, s, true).await;
    if !start_failed {
        while !s.lc_ending {
            let e = io.recv(is_leaving).await;
            note_leaving(s, &e);
        }
        if s.cfg.bug != Some(Bug::StopWithPacketsInFlight) {
            let _ = io.ports.lc.stop_complete();
        }
    }
    let _ = io.ports.timer.close();
    for u in s
        .rx_urbs
        .drain(..)
        .chain(s.tx_free.drain(..))
        .chain(s.ctrl_urb.take())
        .chain(s.status_urb.take())
    {
        let _ = s.cfg.urbs.free(u);
    }
    while !s.usb_gone {
        let e = io.recv(|e| matches!(e, Event::Usb(Usb::Unplugged))).await;
        note_leaving(s, &e);
    }
}
