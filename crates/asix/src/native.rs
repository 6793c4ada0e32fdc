//! The native AX88772 driver: the same driver logic as [`crate::driver`],
//! written the conventional Linux way (usbnet + asix), as the baseline the
//! Dingo driver is compared with (the paper's "native" driver).
//!
//! No Dingo runtime, no protocols, no observer: the driver calls the
//! [`HostController`] directly, its completion handlers run on the
//! controller's delivery thread, the OS calls [`NativeAx88772::transmit`]
//! from any number of threads at once, a link-poll work item runs on a
//! thread of its own, and the state they share sits behind locks, atomics
//! and condition variables, as in usbnet:
//!
//! ```text
//!  OS threads (any number)         link work thread            delivery thread (usb-hc)
//!  ───────────────────────         ────────────────            ────────────────────────
//!  open/stop/suspend/resume/          poll_phy every poll_ms      tx_done ─▶ tx ring, wake queue
//!  disconnect ──▶ [rtnl]              or when kicked              rx_done ─▶ [rx] deframe, repost
//!     │ control ─▶ [ctrl] ─▶ wait       │ mdio ─▶ [phy_mutex]       │     └─▶ receiver (no lock held)
//!     │ mdio ─▶ [phy_mutex]             │   └─▶ [ctrl] ─▶ wait      status_done ─▶ kick the work
//!     │ kill URBs ─▶ wait done          │ link ─▶ [link] + notify   unplugged ─▶ flags, carrier off,
//!     ▼ wait in-flight == 0             │ unplugged: disconnect       queue the disconnect work
//!  transmit ─▶ queue_stopped? ─▶ [tx] ─▶ encode_tx ─▶ submit bulk-OUT
//!  (false: stopped or ring full; the caller retries, as a qdisc requeues)
//!
//!  locks:   [rtnl]   open, stop, suspend, resume, disconnect, probe (one at a time)
//!           [ctrl]   the control URB; one control transfer at a time (usb_control_msg)
//!           [phy_mutex] one MDIO access (SET_SW_MII .. SET_HW_MII) at a time
//!           [tx]     the free transmit URBs (HARD_TX_LOCK); queue_stopped (XOFF) is atomic
//!           [rx]     the bulk-IN and status URBs, the deframer (usbnet's rxq)
//!           [link]   the carrier, with a condvar for wait_link
//!           [inflight] URBs submitted and not completed, with a condvar (unlink wait)
//!           [work]   the link work item's flags, with a condvar (schedule / cancel_work_sync)
//!  atomics: open (EVENT_DEV_OPEN), asleep (netif_device_detach), gone (disconnected),
//!           queue_stopped, statistics
//! ```
//!
//! A completion handler never blocks and never does a control transfer
//! (those complete on the delivery thread it runs on): the status packet
//! only kicks the link work, as usbnet defers `EVENT_LINK_RESET` to a
//! work item. Stopping, suspending and disconnecting kill the URBs
//! synchronously (`usb_kill_urb`): abort, wait for the abort's
//! completion, then for the in-flight count to reach zero.
//!
//! Do not call [`NativeAx88772::stop`], [`NativeAx88772::suspend`] or
//! [`NativeAx88772::disconnect`] from the receiver: it runs on the delivery
//! thread those wait for.

use crate::adapter::AdapterConfig;
use crate::framing::{self, RxDeframer};
use crate::regs::{self, ep};
use crate::{RX_QUEUE_LEN, TX_QUEUE_LEN};
use devices::ax88772::{self as model, Ax88772 as Chip};
use dingo_host::net::Receiver;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use usb::bus::{errno, error_code, submit_error_code};
use usb::{
    Completion, HostController, HostEvent, OnComplete, SetupPacket, TransferError, UrbId, UrbPool,
};

/// `-ETIMEDOUT`.
const ETIMEDOUT: i32 = -110;
/// `-ENODATA`: a short control read (Linux 6.1).
const ENODATA: i32 = -61;
/// How long a kill waits for the controller to give a URB back.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// How the native driver is set up (the twin of [`crate::Config`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NativeConfig {
    /// Bulk-IN URBs kept posted while open.
    pub rx_urbs: usize,
    /// The chip's pauses (reset) in percent of Linux's; 0 makes each 1 ms.
    pub delay_percent: u32,
    /// The PHY poll period in milliseconds (phylib polls every second).
    pub poll_ms: u32,
    /// How long a control transfer may take (`USB_CTRL_SET_TIMEOUT`).
    pub control_timeout: Duration,
}

impl Default for NativeConfig {
    /// Linux's timing, `RX_QUEUE_LEN` receive URBs, 5 s control timeout.
    fn default() -> Self {
        NativeConfig {
            rx_urbs: RX_QUEUE_LEN,
            delay_percent: 100,
            poll_ms: 1000,
            control_timeout: Duration::from_secs(5),
        }
    }
}

/// The driver's counters (`net_device_stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NativeStats {
    /// Frames the chip took (bulk-OUT transfers that completed).
    pub tx_packets: u64,
    /// Bulk-OUT transfers that failed or could not be submitted.
    pub tx_errors: u64,
    /// Frames dropped at `transmit` (empty, or longer than [`framing::MAX_FRAME`]).
    pub tx_dropped: u64,
    /// Times `transmit` found the queue stopped (the caller had to retry).
    pub tx_busy: u64,
    /// Frames handed to the receiver.
    pub rx_packets: u64,
    /// Frames received with no receiver set.
    pub rx_dropped: u64,
    /// Bulk-IN transfers with a bad header (the rest of the transfer dropped).
    pub rx_errors: u64,
    /// Carrier changes.
    pub link_changes: u64,
}

/// `mutex_lock`. A lock whose holder panicked is taken all the same: the
/// driver carries on, as a kernel does after an oops in another thread.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A `struct completion`: one value, handed from a callback to a waiter.
struct Signal<T> {
    slot: Mutex<Option<T>>,
    cv: Condvar,
}

impl<T> Signal<T> {
    fn new() -> Arc<Signal<T>> {
        Arc::new(Signal {
            slot: Mutex::new(None),
            cv: Condvar::new(),
        })
    }

    fn complete(&self, value: T) {
        let mut slot = lock(&self.slot);
        *slot = Some(value);
        self.cv.notify_all();
    }

    /// The value, or `None` after `timeout`.
    fn wait_for(&self, timeout: Duration) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut slot = lock(&self.slot);
        loop {
            if let Some(v) = slot.take() {
                return Some(v);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            slot = match self.cv.wait_timeout(slot, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

/// The transmit ring: the free bulk-OUT URBs.
struct TxRing {
    free: Vec<UrbId>,
    /// Scratch for the framed transfer.
    buf: Vec<u8>,
}

/// The receive side: bulk-IN URBs not posted, the status URB, the deframer.
struct RxRing {
    idle: Vec<UrbId>,
    posted: usize,
    status: Option<UrbId>,
    status_posted: bool,
    deframer: RxDeframer,
}

/// What probe learned.
#[derive(Clone, Copy)]
struct Hw {
    mac: [u8; 6],
    phy: u8,
}

/// What the `rtnl` lock guards.
struct Life {
    disconnected: bool,
}

/// The link work item's flags.
#[derive(Default)]
struct WorkState {
    /// Polling scheduled (the interface is open and awake).
    enabled: bool,
    /// Poll now (a status packet or open asked).
    kick: bool,
    /// A poll is running (`cancel_work_sync` waits for it).
    running: bool,
    /// The device is gone: run the disconnect.
    unplugged: bool,
    /// The thread must end.
    exit: bool,
}

/// The link work item and its thread's wake-up.
#[derive(Default)]
struct Work {
    state: Mutex<WorkState>,
    cv: Condvar,
}

/// The counters, updated from any thread.
#[derive(Default)]
struct Counters {
    tx_packets: AtomicU64,
    tx_errors: AtomicU64,
    tx_dropped: AtomicU64,
    tx_busy: AtomicU64,
    rx_packets: AtomicU64,
    rx_dropped: AtomicU64,
    rx_errors: AtomicU64,
    link_changes: AtomicU64,
}

/// The native AX88772 driver (see the module docs). Bound by
/// [`NativeAx88772::probe`]; every method may be called from any thread.
pub struct NativeAx88772 {
    me: Weak<NativeAx88772>,
    host: Arc<HostController>,
    pool: UrbPool,
    cfg: NativeConfig,
    tx_cb: OnComplete,
    rx_cb: OnComplete,
    status_cb: OnComplete,
    /// Serialises open, stop, suspend, resume, probe and disconnect.
    rtnl: Mutex<Life>,
    /// The control URB (`None` once freed).
    ctrl: Mutex<Option<UrbId>>,
    /// One MDIO access at a time (`dev->phy_mutex`).
    phy_mutex: Mutex<()>,
    hw: Mutex<Hw>,
    tx: Mutex<TxRing>,
    rx: Mutex<RxRing>,
    link: Mutex<Option<(u32, bool)>>,
    link_cv: Condvar,
    inflight: Mutex<usize>,
    inflight_cv: Condvar,
    open: AtomicBool,
    asleep: AtomicBool,
    gone: AtomicBool,
    queue_stopped: AtomicBool,
    receiver: RwLock<Option<Receiver>>,
    stats: Counters,
    work: Arc<Work>,
    thread: Mutex<Option<JoinHandle<()>>>,
    subscription: Mutex<Option<u64>>,
}

/// A completion handler that runs `f` on the driver (if it still exists)
/// and then counts the URB as back.
fn callback(me: &Weak<NativeAx88772>, f: fn(&NativeAx88772, Completion)) -> OnComplete {
    let me = me.clone();
    Arc::new(move |c: Completion| {
        if let Some(d) = me.upgrade() {
            f(&d, c);
            d.inflight_put();
        }
    })
}

/// Allocates the driver's URBs: control, status, `rx` bulk-IN, the
/// transmit ring. Frees what it got on failure.
fn allocate(pool: &UrbPool, rx: usize) -> Result<(UrbId, UrbId, Vec<UrbId>, Vec<UrbId>), String> {
    let mut got = Vec::new();
    let mut take = |n: usize| -> Result<UrbId, String> {
        let u = pool
            .alloc(n)
            .map_err(|e| format!("cannot allocate a URB: {e}"))?;
        got.push(u);
        Ok(u)
    };
    let all = (|| {
        let ctrl = take(8 + 64)?;
        let status = take(regs::STATUS_LEN)?;
        let rx: Vec<UrbId> = (0..rx.max(1))
            .map(|_| take(regs::RX_URB_SIZE))
            .collect::<Result<_, _>>()?;
        let tx: Vec<UrbId> = (0..TX_QUEUE_LEN)
            .map(|_| take(framing::MAX_FRAME + 8))
            .collect::<Result<_, _>>()?;
        Ok((ctrl, status, rx, tx))
    })();
    if all.is_err() {
        for u in got {
            let _ = pool.free(u);
        }
    }
    all
}

impl NativeAx88772 {
    /// Binds to the AX88772 on `host` and resets it (`usbnet_probe` and
    /// `ax88772_bind`, Linux 6.1's order): SET_INTERFACE(0), MAC, PHY
    /// address, chip code, hardware reset, PHY identifier, PHY powered down.
    pub fn probe(host: Arc<HostController>, config: NativeConfig) -> Result<Arc<Self>, String> {
        let pool = host.pool().clone();
        let (ctrl, status, rx_urbs, tx_urbs) = allocate(&pool, config.rx_urbs)?;
        let poll = Duration::from_millis(u64::from(config.poll_ms.max(1)));
        let drv = Arc::new_cyclic(|me: &Weak<NativeAx88772>| NativeAx88772 {
            me: me.clone(),
            host: host.clone(),
            pool: pool.clone(),
            cfg: config,
            tx_cb: callback(me, NativeAx88772::tx_done),
            rx_cb: callback(me, NativeAx88772::rx_done),
            status_cb: callback(me, NativeAx88772::status_done),
            rtnl: Mutex::new(Life {
                disconnected: false,
            }),
            ctrl: Mutex::new(Some(ctrl)),
            phy_mutex: Mutex::new(()),
            hw: Mutex::new(Hw {
                mac: [0; 6],
                phy: regs::EMBEDDED_PHY,
            }),
            tx: Mutex::new(TxRing {
                free: tx_urbs,
                buf: Vec::with_capacity(framing::MAX_FRAME + 8),
            }),
            rx: Mutex::new(RxRing {
                idle: rx_urbs,
                posted: 0,
                status: Some(status),
                status_posted: false,
                deframer: RxDeframer::new(),
            }),
            link: Mutex::new(None),
            link_cv: Condvar::new(),
            inflight: Mutex::new(0),
            inflight_cv: Condvar::new(),
            open: AtomicBool::new(false),
            asleep: AtomicBool::new(false),
            gone: AtomicBool::new(false),
            queue_stopped: AtomicBool::new(true),
            receiver: RwLock::new(None),
            stats: Counters::default(),
            work: Arc::new(Work::default()),
            thread: Mutex::new(None),
            subscription: Mutex::new(None),
        });
        let me = Arc::downgrade(&drv);
        let id = host.subscribe(Arc::new(move |e: HostEvent| {
            if let Some(d) = me.upgrade() {
                d.on_host_event(e);
            }
        }));
        *lock(&drv.subscription) = Some(id);
        let (work, me) = (drv.work.clone(), Arc::downgrade(&drv));
        let spawned = thread::Builder::new()
            .name("asix-native-link".into())
            .spawn(move || link_work(&work, &me, poll));
        match spawned {
            Ok(h) => *lock(&drv.thread) = Some(h),
            Err(e) => {
                drv.disconnect();
                return Err(format!("cannot start the link work thread: {e}"));
            }
        }
        let bound = {
            let _rtnl = lock(&drv.rtnl);
            drv.bind()
        };
        if let Err(code) = bound {
            drv.disconnect();
            return Err(format!("probe failed: {code}"));
        }
        Ok(drv)
    }

    /// Brings the interface up (`ndo_open`): node id, RX_CTL, medium mode,
    /// PHY up and autonegotiating; posts the status and bulk-IN URBs,
    /// starts the queue and the link polling.
    pub fn open(&self) -> Result<(), String> {
        let _rtnl = lock(&self.rtnl);
        if self.gone.load(Ordering::SeqCst) {
            return Err("the device is gone".into());
        }
        if self.asleep.load(Ordering::SeqCst) {
            return Err("the device is asleep".into());
        }
        if self.open.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.open_hardware()
            .map_err(|c| format!("open failed: {c}"))?;
        self.set_link(None);
        self.open.store(true, Ordering::SeqCst);
        {
            let mut rx = lock(&self.rx);
            rx.deframer.reset();
            self.post_receives(&mut rx);
        }
        self.start_queue();
        self.work_enable();
        Ok(())
    }

    /// Brings the interface down (`ndo_stop`): stops the queue and the link
    /// polling, turns the receiver off, kills every data URB and waits for
    /// them.
    pub fn stop(&self) -> Result<(), String> {
        let _rtnl = lock(&self.rtnl);
        if !self.open.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.open.store(false, Ordering::SeqCst);
        self.queue_stopped.store(true, Ordering::SeqCst);
        self.cancel_work_sync();
        if !self.asleep.load(Ordering::SeqCst) && !self.gone.load(Ordering::SeqCst) {
            // Failures are logged and ignored in Linux: the URBs go anyway.
            let _ = self.vendor_write(regs::WRITE_RX_CTL, 0, 0, &[]);
            let _ = self.vendor_write(regs::WRITE_MEDIUM_MODE, 0, 0, &[]);
        }
        let drained = self.kill_data();
        self.set_link(None);
        if drained {
            Ok(())
        } else {
            Err("URBs still in flight after stop".into())
        }
    }

    /// Sends one Ethernet frame (`ndo_start_xmit`), from any thread. False
    /// when the frame was not taken (interface down or asleep, queue
    /// stopped, ring full): the caller retries later, as the qdisc
    /// requeues. A frame that can never be sent (empty, or longer than
    /// [`framing::MAX_FRAME`]) is dropped, counted and reported as taken.
    pub fn transmit(&self, frame: &[u8]) -> bool {
        if self.queue_stopped.load(Ordering::Acquire) || !self.running() {
            self.stats.tx_busy.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        if frame.is_empty() || frame.len() > framing::MAX_FRAME {
            self.stats.tx_dropped.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        let mut tx = lock(&self.tx);
        if self.queue_stopped.load(Ordering::Acquire) || !self.running() {
            self.stats.tx_busy.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let Some(urb) = tx.free.pop() else {
            self.queue_stopped.store(true, Ordering::Release);
            self.stats.tx_busy.fetch_add(1, Ordering::Relaxed);
            return false;
        };
        let mut buf = std::mem::take(&mut tx.buf);
        framing::encode_tx(frame, regs::BULK_MAX_PACKET, &mut buf);
        let len = buf.len();
        let filled = self.pool.fill(urb, &buf);
        tx.buf = buf;
        let sent = filled.is_ok()
            && self
                .submit(ep::BULK_OUT, urb, len, self.tx_cb.clone())
                .is_ok();
        if !sent {
            tx.free.push(urb);
            self.stats.tx_errors.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        if tx.free.is_empty() {
            // netif_stop_queue: the last free URB went out.
            self.queue_stopped.store(true, Ordering::Release);
        }
        true
    }

    /// Where received frames go (`netif_rx`); replaces the previous receiver.
    /// It runs on the controller's delivery thread, with no driver lock held.
    pub fn set_receiver(&self, rx: Receiver) {
        *self
            .receiver
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(rx);
    }

    /// The link speed in Mb/s, if the carrier is on.
    pub fn link(&self) -> Option<u32> {
        lock(&self.link).map(|(mbps, _)| mbps)
    }

    /// Waits until the carrier is on (`up`) or off; false after `timeout`.
    pub fn wait_link(&self, up: bool, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut link = lock(&self.link);
        loop {
            if link.is_some() == up {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            link = match self.link_cv.wait_timeout(link, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Puts the device to sleep (`usbnet_suspend`): detaches the interface
    /// (queue stopped), cancels the link work, kills the data URBs and
    /// suspends the device.
    pub fn suspend(&self) -> Result<(), String> {
        let _rtnl = lock(&self.rtnl);
        if self.gone.load(Ordering::SeqCst) {
            return Err("the device is gone".into());
        }
        if self.asleep.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.asleep.store(true, Ordering::SeqCst);
        self.queue_stopped.store(true, Ordering::SeqCst);
        self.cancel_work_sync();
        if !self.kill_data() {
            return Err("URBs still in flight at suspend".into());
        }
        let done = Signal::new();
        let d = done.clone();
        self.host
            .suspend(move |r: Result<(), TransferError>| d.complete(r));
        match done.wait_for(self.cfg.control_timeout) {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(format!("suspend failed: {e:?}")),
            None => Err("suspend timed out".into()),
        }
    }

    /// Wakes the device (`usbnet_resume`): resumes it and, if the interface
    /// is open, reprograms it, reposts the URBs, restarts the queue and the
    /// link polling (the carrier comes back with the next poll).
    pub fn resume(&self) -> Result<(), String> {
        let _rtnl = lock(&self.rtnl);
        if self.gone.load(Ordering::SeqCst) {
            return Err("the device is gone".into());
        }
        if !self.asleep.load(Ordering::SeqCst) {
            return Ok(());
        }
        let done = Signal::new();
        let d = done.clone();
        self.host
            .resume(move |r: Result<(), TransferError>| d.complete(r));
        match done.wait_for(self.cfg.control_timeout) {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(format!("resume failed: {e:?}")),
            None => return Err("resume timed out".into()),
        }
        lock(&self.rx).deframer.reset();
        self.asleep.store(false, Ordering::SeqCst);
        if !self.open.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.set_link(None);
        let reopened = self.open_hardware();
        {
            let mut rx = lock(&self.rx);
            self.post_receives(&mut rx);
        }
        self.start_queue();
        self.work_enable();
        reopened.map_err(|c| format!("resume: reprogramming failed: {c}"))
    }

    /// Unbinds (`usbnet_disconnect`), after an unplug or not: stops
    /// everything, kills every URB, frees them and ends the link work
    /// thread. Returns when no transfer of the driver is pending. Also run
    /// by the link work thread when the controller reports the device
    /// unplugged; calling it again does nothing.
    pub fn disconnect(&self) {
        self.teardown();
        {
            let mut w = lock(&self.work.state);
            w.exit = true;
            self.work.cv.notify_all();
        }
        let handle = lock(&self.thread).take();
        if let Some(h) = handle
            && h.thread().id() != thread::current().id()
        {
            let _ = h.join();
        }
    }

    /// The counters.
    pub fn stats(&self) -> NativeStats {
        let s = &self.stats;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        NativeStats {
            tx_packets: get(&s.tx_packets),
            tx_errors: get(&s.tx_errors),
            tx_dropped: get(&s.tx_dropped),
            tx_busy: get(&s.tx_busy),
            rx_packets: get(&s.rx_packets),
            rx_dropped: get(&s.rx_dropped),
            rx_errors: get(&s.rx_errors),
            link_changes: get(&s.link_changes),
        }
    }

    /// The MAC address read at probe.
    pub fn mac(&self) -> [u8; 6] {
        lock(&self.hw).mac
    }

    /// Whether the driver has been disconnected.
    pub fn is_disconnected(&self) -> bool {
        lock(&self.rtnl).disconnected
    }

    // --- state ------------------------------------------------------------

    /// Open, awake and bound: URBs may be posted and frames sent.
    fn running(&self) -> bool {
        self.open.load(Ordering::Acquire)
            && !self.asleep.load(Ordering::Acquire)
            && !self.gone.load(Ordering::Acquire)
    }

    /// netif_start_queue / netif_wake_queue, if there is room.
    fn start_queue(&self) {
        let tx = lock(&self.tx);
        let stop = tx.free.is_empty() || !self.running();
        self.queue_stopped.store(stop, Ordering::Release);
    }

    /// Sets the carrier and wakes `wait_link`ers.
    fn set_link(&self, to: Option<(u32, bool)>) {
        let mut link = lock(&self.link);
        if *link != to {
            *link = to;
            self.stats.link_changes.fetch_add(1, Ordering::Relaxed);
            self.link_cv.notify_all();
        }
    }

    /// Delivery thread: the controller says the device is gone. Nothing
    /// here may block: mark the device gone and hand the disconnect to the
    /// link work thread (as the hub thread runs `disconnect`).
    fn on_host_event(&self, e: HostEvent) {
        if e != HostEvent::Unplugged {
            return;
        }
        self.gone.store(true, Ordering::SeqCst);
        self.queue_stopped.store(true, Ordering::SeqCst);
        self.set_link(None);
        let mut w = lock(&self.work.state);
        w.unplugged = true;
        self.work.cv.notify_all();
    }

    // --- URBs -------------------------------------------------------------

    fn inflight_get(&self) {
        *lock(&self.inflight) += 1;
    }

    fn inflight_put(&self) {
        let mut n = lock(&self.inflight);
        *n = n.saturating_sub(1);
        if *n == 0 {
            self.inflight_cv.notify_all();
        }
    }

    /// Waits until every submitted URB has completed; false after `timeout`.
    fn wait_inflight_zero(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut n = lock(&self.inflight);
        loop {
            if *n == 0 {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            n = match self.inflight_cv.wait_timeout(n, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// `usb_submit_urb`, counted in flight.
    fn submit(&self, endpoint: u8, urb: UrbId, length: usize, cb: OnComplete) -> Result<(), i32> {
        self.inflight_get();
        match self.host.submit(endpoint, urb, length, cb) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.inflight_put();
                Err(submit_error_code(e))
            }
        }
    }

    /// `usb_kill_urb` for every URB on `endpoint`: abort, and wait until
    /// their completions have run.
    fn kill(&self, endpoint: u8) {
        let done = Signal::new();
        let d = done.clone();
        self.host.abort(endpoint, move || d.complete(()));
        let _ = done.wait_for(KILL_TIMEOUT);
    }

    /// Kills the status, bulk-IN and bulk-OUT URBs once nothing can post
    /// new ones (the callers cleared `open` or set `asleep` or `gone`), and
    /// waits for every URB in flight. False if some never came back.
    fn kill_data(&self) -> bool {
        // Barriers: a submitter that saw the old flags has finished.
        drop(lock(&self.tx));
        drop(lock(&self.rx));
        for endpoint in [ep::INTERRUPT, ep::BULK_IN, ep::BULK_OUT] {
            self.kill(endpoint);
        }
        self.wait_inflight_zero(KILL_TIMEOUT)
    }

    /// Posts the status URB and every idle bulk-IN URB (rx lock held).
    fn post_receives(&self, rx: &mut RxRing) {
        if !self.running() {
            return;
        }
        if !rx.status_posted
            && let Some(u) = rx.status
            && self.pool.set_length(u, regs::STATUS_LEN).is_ok()
            && self
                .submit(ep::INTERRUPT, u, regs::STATUS_LEN, self.status_cb.clone())
                .is_ok()
        {
            rx.status_posted = true;
        }
        while let Some(u) = rx.idle.pop() {
            let posted = self.pool.set_length(u, regs::RX_URB_SIZE).is_ok()
                && self
                    .submit(ep::BULK_IN, u, regs::RX_URB_SIZE, self.rx_cb.clone())
                    .is_ok();
            if !posted {
                rx.idle.push(u);
                break;
            }
            rx.posted += 1;
        }
    }

    /// Delivery thread: a bulk-OUT transfer ended.
    fn tx_done(&self, c: Completion) {
        let mut tx = lock(&self.tx);
        tx.free.push(c.urb);
        match c.status {
            Ok(_) => self.stats.tx_packets.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.stats.tx_errors.fetch_add(1, Ordering::Relaxed),
        };
        if self.queue_stopped.load(Ordering::Acquire) && self.running() {
            // netif_wake_queue.
            self.queue_stopped.store(false, Ordering::Release);
        }
    }

    /// Delivery thread: a bulk-IN transfer ended: deframe, repost, then
    /// hand the frames to the receiver with no lock held.
    fn rx_done(&self, c: Completion) {
        let mut frames: Vec<Vec<u8>> = Vec::new();
        {
            let mut rx = lock(&self.rx);
            rx.posted = rx.posted.saturating_sub(1);
            rx.idle.push(c.urb);
            match c.status {
                Ok(n) if self.open.load(Ordering::Acquire) => {
                    if let Ok(data) = self.pool.read(c.urb, 0, n)
                        && rx
                            .deframer
                            .push(&data, |f| frames.push(f.to_vec()))
                            .is_err()
                    {
                        self.stats.rx_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(_) => {}
                Err(_) => rx.deframer.reset(),
            }
            // usbnet resubmits after a bus error, not after an unlink,
            // a disconnect or a suspend.
            let again = matches!(
                c.status,
                Ok(_) | Err(TransferError::Protocol | TransferError::Overflow)
            );
            if again {
                self.post_receives(&mut rx);
            }
        }
        if frames.is_empty() {
            return;
        }
        let receiver = self
            .receiver
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match receiver {
            Some(r) => {
                for f in &frames {
                    // Counted before the stack sees it (usbnet_skb_return).
                    self.stats.rx_packets.fetch_add(1, Ordering::Relaxed);
                    r(f);
                }
            }
            None => {
                let n = frames.len() as u64;
                self.stats.rx_dropped.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// Delivery thread: a status packet. A link change only kicks the link
    /// work (it needs control transfers, which cannot run here).
    fn status_done(&self, c: Completion) {
        let mut rx = lock(&self.rx);
        rx.status_posted = false;
        let Ok(n) = c.status else {
            return;
        };
        if n >= regs::STATUS_LEN
            && let Ok(d) = self.pool.read(c.urb, 0, regs::STATUS_LEN)
            && let Some(byte) = d.get(2)
        {
            let up = byte & 1 != 0;
            let known = lock(&self.link).is_some();
            if up != known {
                self.work_kick();
            }
        }
        self.post_receives(&mut rx);
    }

    // --- control transfers -------------------------------------------------

    /// `usb_control_msg`: one control transfer, waited for (at most the
    /// control timeout, then killed).
    fn control(&self, setup: SetupPacket, data: &[u8]) -> Result<Vec<u8>, i32> {
        let ctrl = lock(&self.ctrl);
        let Some(urb) = *ctrl else {
            return Err(errno::ENODEV);
        };
        if self.gone.load(Ordering::SeqCst) {
            return Err(errno::ENODEV);
        }
        let stage = usize::from(setup.length).max(data.len());
        let filled = self
            .pool
            .write(urb, 0, &setup.to_bytes())
            .and_then(|_| self.pool.write(urb, 8, data))
            .and_then(|_| self.pool.set_length(urb, 8 + stage));
        if filled.is_err() {
            return Err(errno::EFAULT);
        }
        let done = Signal::new();
        let d = done.clone();
        let me = self.me.clone();
        let cb: OnComplete = Arc::new(move |c: Completion| {
            d.complete(c.status);
            if let Some(drv) = me.upgrade() {
                drv.inflight_put();
            }
        });
        self.submit(ep::CONTROL, urb, 8 + stage, cb)?;
        let status = match done.wait_for(self.cfg.control_timeout) {
            Some(s) => s,
            None => {
                self.kill(ep::CONTROL);
                let _ = done.wait_for(KILL_TIMEOUT);
                return Err(ETIMEDOUT);
            }
        };
        let length = usize::from(setup.length);
        match status {
            Err(e) => Err(error_code(e)),
            Ok(_) if !setup.is_in() => Ok(Vec::new()),
            // Linux 6.1 treats a short read as an error.
            Ok(n) if n < length => Err(ENODATA),
            Ok(_) => self.pool.read(urb, 8, length).map_err(|_| errno::EFAULT),
        }
    }

    fn vendor_read(
        &self,
        request: u8,
        value: u16,
        index: u16,
        length: u16,
    ) -> Result<Vec<u8>, i32> {
        let v = self.control(regs::vendor_in(request, value, index, length), &[])?;
        if v.len() < usize::from(length) {
            return Err(ENODATA);
        }
        Ok(v)
    }

    fn vendor_write(&self, request: u8, value: u16, index: u16, data: &[u8]) -> Result<(), i32> {
        let setup = regs::vendor_out(request, value, index, data.len().min(64) as u16);
        self.control(setup, data).map(|_| ())
    }

    /// Takes the MDIO bus: SET_SW_MII, then poll Host_EN (up to 30 times).
    /// The caller holds the PHY mutex.
    fn mdio_take(&self) -> Result<(), i32> {
        for _ in 0..30 {
            self.vendor_write(regs::SET_SW_MII, 0, 0, &[])?;
            let st = self.vendor_read(regs::STATMNGSTS_REG, 0, 0, 1)?;
            if st.first().is_some_and(|b| b & 1 != 0) {
                return Ok(());
            }
        }
        Err(ETIMEDOUT)
    }

    fn phy_address(&self) -> u16 {
        u16::from(lock(&self.hw).phy)
    }

    /// Reads PHY register `reg` (device-facts §2.6), under the PHY mutex.
    fn mdio_read(&self, reg: u16) -> Result<u16, i32> {
        let _phy = lock(&self.phy_mutex);
        self.mdio_take()?;
        let v = self.vendor_read(regs::READ_MII_REG, self.phy_address(), reg, 2)?;
        self.vendor_write(regs::SET_HW_MII, 0, 0, &[])?;
        match v.as_slice() {
            [lo, hi, ..] => Ok(u16::from_le_bytes([*lo, *hi])),
            _ => Err(ENODATA),
        }
    }

    /// Writes PHY register `reg`, under the PHY mutex.
    fn mdio_write(&self, reg: u16, value: u16) -> Result<(), i32> {
        let _phy = lock(&self.phy_mutex);
        self.mdio_take()?;
        let phy = self.phy_address();
        self.vendor_write(regs::WRITE_MII_REG, phy, reg, &value.to_le_bytes())?;
        self.vendor_write(regs::SET_HW_MII, 0, 0, &[])
    }

    /// Sleeps `ms` of Linux's timing, scaled by `delay_percent` (`msleep`).
    fn pause(&self, ms: u32) -> Result<(), i32> {
        let ms = (u64::from(ms) * u64::from(self.cfg.delay_percent) / 100).max(1);
        thread::sleep(Duration::from_millis(ms));
        if self.gone.load(Ordering::SeqCst) {
            return Err(errno::ENODEV);
        }
        Ok(())
    }

    /// SET_INTERFACE, waited for.
    fn set_interface(&self, alt: u8) -> Result<(), i32> {
        let done = Signal::new();
        let d = done.clone();
        self.host
            .set_interface(alt, move |r: Result<(), TransferError>| d.complete(r));
        match done.wait_for(self.cfg.control_timeout) {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(error_code(e)),
            None => Err(ETIMEDOUT),
        }
    }

    // --- sequences (rtnl held) -------------------------------------------------

    /// Probe and hardware reset, in Linux 6.1's order (device-facts §2.10).
    fn bind(&self) -> Result<(), i32> {
        self.set_interface(0)?;
        let mac = self.vendor_read(regs::READ_NODE_ID, 0, 0, 6)?;
        let phy = self.vendor_read(regs::READ_PHY_ID, 0, 0, 2)?;
        let phy = phy.get(1).copied().unwrap_or(u8::MAX);
        if phy >= 32 {
            return Err(errno::ENODEV);
        }
        {
            let mut hw = lock(&self.hw);
            for (dst, src) in hw.mac.iter_mut().zip(&mac) {
                *dst = *src;
            }
            hw.phy = phy;
        }
        let _chip = self.vendor_read(regs::STATMNGSTS_REG, 0, 0, 1)?;
        self.hardware_reset(phy)?;
        // The MDIO bus scan: the PHY's identifier.
        let id1 = self.mdio_read(regs::MII_PHYSID1)?;
        let id2 = self.mdio_read(regs::MII_PHYSID2)?;
        if (u32::from(id1) << 16 | u32::from(id2)) & 0x1FFF_FFFF == 0x1FFF_FFFF {
            return Err(errno::ENODEV); // no PHY
        }
        // phylink: the PHY stays powered down until the interface opens.
        self.mdio_write(regs::MII_BMCR, regs::BMCR_PDOWN)
    }

    /// `ax88772_hw_reset` for chip code 0.
    fn hardware_reset(&self, phy: u8) -> Result<(), i32> {
        self.vendor_write(regs::WRITE_GPIOS, regs::GPIO_772, 0, &[])?;
        self.pause(5)?;
        let embedded = u16::from(phy & 0x1F == regs::EMBEDDED_PHY);
        self.vendor_write(regs::SW_PHY_SELECT, embedded, 0, &[])?;
        self.vendor_write(regs::SW_RESET, regs::SW_RESET_IPPD, 0, &[])?;
        self.pause(10)?;
        self.vendor_write(regs::SW_RESET, regs::SW_RESET_CLEAR, 0, &[])?;
        self.pause(60)?;
        self.vendor_write(regs::SW_RESET, regs::SW_RESET_IPRL_PRL, 0, &[])?;
        self.pause(150)?;
        self.vendor_write(regs::WRITE_RX_CTL, regs::RX_CTL_DEFAULT, 0, &[])?;
        self.vendor_write(regs::WRITE_MEDIUM_MODE, regs::MEDIUM_DEFAULT, 0, &[])?;
        let (ipg, ipg2) = regs::IPG;
        self.vendor_write(regs::WRITE_IPG0, ipg, ipg2, &[])?;
        let mac = self.mac();
        self.vendor_write(regs::WRITE_NODE_ID, 0, 0, &mac)?;
        self.vendor_write(regs::WRITE_RX_CTL, regs::RX_CTL_DEFAULT, 0, &[])?;
        self.vendor_read(regs::READ_RX_CTL, 0, 0, 2)?;
        self.vendor_read(regs::READ_MEDIUM_STATUS, 0, 0, 2)?;
        Ok(())
    }

    /// `ax88772_reset` at open, then phylink start: the PHY powers up and
    /// autonegotiates.
    fn open_hardware(&self) -> Result<(), i32> {
        let mac = self.mac();
        self.vendor_write(regs::WRITE_NODE_ID, 0, 0, &mac)?;
        self.vendor_write(regs::WRITE_RX_CTL, regs::RX_CTL_DEFAULT, 0, &[])?;
        self.vendor_write(regs::WRITE_MEDIUM_MODE, regs::MEDIUM_DEFAULT, 0, &[])?;
        self.mdio_write(regs::MII_ADVERTISE, regs::ADVERTISE_ALL)?;
        self.mdio_write(regs::MII_BMCR, regs::BMCR_ANENABLE | regs::BMCR_ANRESTART)
    }

    /// The link work (phylib's state machine): polls the PHY and sets the
    /// medium mode and the carrier on a change.
    fn poll_phy(&self) -> Result<(), i32> {
        if !self.running() {
            return Ok(());
        }
        let link = *lock(&self.link);
        let mut bmsr = self.mdio_read(regs::MII_BMSR)?;
        if link.is_none() {
            // Latched low: read again for the current state.
            bmsr = self.mdio_read(regs::MII_BMSR)?;
        }
        let up = bmsr & regs::BMSR_LSTATUS != 0 && bmsr & regs::BMSR_ANEGCOMPLETE != 0;
        if up && link.is_none() {
            let lpa = self.mdio_read(regs::MII_LPA)?;
            let (mbps, full, pause) = regs::resolve(lpa, regs::ADVERTISE_ALL);
            let medium = regs::medium_for(mbps, full, pause);
            self.vendor_write(regs::WRITE_MEDIUM_MODE, medium, 0, &[])?;
            self.set_link(Some((mbps, full)));
        } else if !up && link.is_some() {
            self.vendor_write(regs::WRITE_MEDIUM_MODE, 0, 0, &[])?;
            self.set_link(None);
        }
        Ok(())
    }

    /// The disconnect proper (see [`NativeAx88772::disconnect`]); on the
    /// caller's thread or the link work thread.
    fn teardown(&self) {
        let mut life = lock(&self.rtnl);
        if life.disconnected {
            return;
        }
        self.gone.store(true, Ordering::SeqCst);
        self.open.store(false, Ordering::SeqCst);
        self.queue_stopped.store(true, Ordering::SeqCst);
        self.cancel_work_sync();
        self.kill(ep::CONTROL);
        // Barrier: a control transfer submitted before `gone` has ended.
        drop(lock(&self.ctrl));
        self.kill_data();
        // Every URB is back (or never will be): free them.
        let mut urbs: Vec<UrbId> = Vec::new();
        urbs.extend(lock(&self.ctrl).take());
        {
            let mut rx = lock(&self.rx);
            urbs.append(&mut rx.idle);
            urbs.extend(rx.status.take());
        }
        urbs.append(&mut lock(&self.tx).free);
        for u in urbs {
            let _ = self.pool.free(u);
        }
        self.set_link(None);
        let sub = lock(&self.subscription).take();
        if let Some(id) = sub {
            self.host.unsubscribe(id);
        }
        life.disconnected = true;
    }

    // --- the link work item --------------------------------------------------

    /// Schedules polling (every `poll_ms`, and once now).
    fn work_enable(&self) {
        let mut w = lock(&self.work.state);
        w.enabled = true;
        w.kick = true;
        self.work.cv.notify_all();
    }

    /// `schedule_work`: poll now (if polling is on).
    fn work_kick(&self) {
        let mut w = lock(&self.work.state);
        w.kick = true;
        self.work.cv.notify_all();
    }

    /// `cancel_work_sync`: no poll from now on, and none running on return.
    fn cancel_work_sync(&self) {
        let mut w = lock(&self.work.state);
        w.enabled = false;
        w.kick = false;
        self.work.cv.notify_all();
        while w.running {
            w = match self.work.cv.wait(w) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
        }
    }
}

impl Drop for NativeAx88772 {
    /// The OS dropped a driver it did not disconnect: cancel what is left
    /// (without waiting: the completions can no longer reach the driver)
    /// and end the link work thread.
    fn drop(&mut self) {
        let life = self.rtnl.get_mut().unwrap_or_else(PoisonError::into_inner);
        if !life.disconnected {
            for endpoint in [ep::INTERRUPT, ep::BULK_IN, ep::BULK_OUT, ep::CONTROL] {
                self.host.abort(endpoint, || {});
            }
            let sub = self
                .subscription
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(id) = sub.take() {
                self.host.unsubscribe(id);
            }
        }
        // The thread holds the work item, not the driver: tell it to end.
        lock(&self.work.state).exit = true;
        self.work.cv.notify_all();
        let handle = self
            .thread
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(h) = handle
            && h.thread().id() != thread::current().id()
        {
            let _ = h.join();
        }
    }
}

/// What the link work thread runs next.
enum Job {
    Poll,
    Disconnect,
}

/// The link work thread: polls the PHY every `period` while enabled, or
/// when kicked; runs the disconnect when the device is unplugged.
fn link_work(work: &Work, me: &Weak<NativeAx88772>, period: Duration) {
    let mut next = Instant::now();
    loop {
        let job = {
            let mut w = lock(&work.state);
            loop {
                if w.exit {
                    return;
                }
                if w.unplugged {
                    w.unplugged = false;
                    break Job::Disconnect;
                }
                let now = Instant::now();
                if w.enabled && (w.kick || now >= next) {
                    w.kick = false;
                    w.running = true;
                    next = now + period;
                    break Job::Poll;
                }
                w = if w.enabled {
                    match work.cv.wait_timeout(w, next.saturating_duration_since(now)) {
                        Ok((g, _)) => g,
                        Err(p) => p.into_inner().0,
                    }
                } else {
                    match work.cv.wait(w) {
                        Ok(g) => g,
                        Err(p) => p.into_inner(),
                    }
                };
            }
        };
        let Some(drv) = me.upgrade() else {
            return;
        };
        match job {
            Job::Poll => {
                // Failures are logged and retried at the next poll in Linux.
                let _ = drv.poll_phy();
                drop(drv);
                let mut w = lock(&work.state);
                w.running = false;
                work.cv.notify_all();
            }
            Job::Disconnect => {
                drv.teardown();
                drop(drv);
            }
        }
    }
}

/// How a [`NativeAdapter`] is built.
#[derive(Clone, Debug, Default)]
pub struct NativeAdapterConfig {
    /// The chip model's settings (MAC, link partner, packing, faults).
    pub chip: model::Config,
    /// The driver's settings.
    pub driver: NativeConfig,
}

impl NativeAdapterConfig {
    /// The native counterpart of an [`AdapterConfig`]: same chip, receive
    /// URBs, delays and poll period.
    pub fn like(config: &AdapterConfig) -> NativeAdapterConfig {
        NativeAdapterConfig {
            chip: config.chip.clone(),
            driver: NativeConfig {
                rx_urbs: config.rx_urbs,
                delay_percent: config.delay_percent,
                poll_ms: config.poll_ms,
                ..NativeConfig::default()
            },
        }
    }
}

/// One whole AX88772 adapter with the native driver: the chip model on a
/// simulated USB host controller, and the driver bound to it.
///
/// ```text
///   OS threads ── transmit / open / stop ──▶ NativeAx88772 ── submit, abort ──▶ HostController
///        ▲                                     ▲  completions (delivery thread)     │
///        └──────── receiver(frame) ────────────┘◀───────────────────────────────────┤
///                                                                          AX88772 model ══ wire
/// ```
pub struct NativeAdapter {
    /// The chip model (plug a wire into it, inject faults).
    pub chip: Arc<Chip>,
    /// The USB host controller it is attached to.
    pub host: Arc<HostController>,
    /// The driver, bound (probed).
    pub driver: Arc<NativeAx88772>,
}

impl NativeAdapter {
    /// Attaches a chip to a new host controller and probes the driver
    /// (the interface stays down: see [`NativeAdapter::bring_up`]).
    pub fn new(config: NativeAdapterConfig) -> Result<NativeAdapter, String> {
        let host = Arc::new(HostController::new(UrbPool::new()));
        let chip = Arc::new(Chip::new(config.chip));
        host.attach(chip.clone())
            .map_err(|e| format!("cannot attach the chip: {e:?}"))?;
        let driver = NativeAx88772::probe(host.clone(), config.driver)?;
        Ok(NativeAdapter { chip, host, driver })
    }

    /// Opens the interface.
    pub fn bring_up(&self) -> Result<(), String> {
        self.driver.open()
    }

    /// Pulls the adapter out: the device goes away under the driver, which
    /// is disconnected; returns when no transfer is pending.
    pub fn unplug(&self) {
        self.host.unplug();
        self.driver.disconnect();
    }

    /// Stops the interface and unbinds the driver.
    pub fn shut_down(&self) -> Result<(), String> {
        let stopped = self.driver.stop();
        self.driver.disconnect();
        stopped
    }
}

impl Drop for NativeAdapter {
    fn drop(&mut self) {
        self.driver.disconnect();
    }
}
