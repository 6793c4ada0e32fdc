//! The OS end of a network driver: its `Lifecycle`, `PowerManagement` and
//! `EthernetController` ports (specs/lifecycle.tingu, power.tingu,
//! ethernet.tingu), bridged to whatever carries the OS's frames (a TAP
//! device, or an in-process traffic endpoint), and the packet buffers both
//! sides share.
//!
//! ```text
//!   OS stack ── transmit(frame) ──▶ NetHost ── ?txPacket(p) ──▶ driver
//!     (TAP, traffic endpoint)         │ backlog while the queue is
//!                                     │ stopped or `tx_limit` packets
//!                                     │ are out
//!                                     ◀── !txPacketDone(p) / !txPacketAbort(p)
//!   receiver ◀── frame ───────────── NetHost ◀── !rxPacket(p) ──── driver
//! ```
//!
//! **The transmit rule.** The driver stops its queue when it holds
//! `tx_limit` packets (the depth of its transmit ring). The host never has
//! more than `tx_limit` packets out with the driver, and never sends while
//! the queue is stopped, so a `txPacket` on its way cannot cross the
//! driver's `txStopQueue`: the driver can only stop after receiving the
//! packet that filled its ring, and the host sends no packet beyond that
//! one until a packet comes back and the queue restarts.
//!
//! Packets are [`PacketPool`] handles (`packet_t`): the host allocates the
//! transmit packets, the driver the received ones; whoever receives a
//! packet frees it.

use crate::outbox::{self, Outbox};
use dingo::{Peer, Wire};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
use tingu::ir::Model;

/// Receives the frames the driver hands the OS (each an Ethernet frame
/// without FCS).
pub type Receiver = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// Packet buffers named by `packet_t` handles, shared by the OS and its
/// drivers. A handle carries a generation, so a stale or forged handle is
/// refused rather than aliasing another packet.
pub struct PacketPool {
    slots: Mutex<Slots>,
    capacity: usize,
}

#[derive(Default)]
struct Slots {
    data: Vec<Vec<u8>>,
    generation: Vec<u32>,
    live: Vec<bool>,
    free: Vec<u32>,
    in_use: usize,
}

impl PacketPool {
    /// A pool of at most `capacity` live packets.
    pub fn new(capacity: usize) -> Arc<PacketPool> {
        Arc::new(PacketPool {
            slots: Mutex::new(Slots::default()),
            capacity,
        })
    }

    /// A new packet holding `bytes`, or `None` if the pool is exhausted.
    pub fn alloc(&self, bytes: &[u8]) -> Option<i64> {
        let mut s = outbox::lock(&self.slots);
        if s.in_use >= self.capacity {
            return None;
        }
        let index = match s.free.pop() {
            Some(i) => i as usize,
            None => {
                s.data.push(Vec::new());
                s.generation.push(0);
                s.live.push(false);
                s.data.len() - 1
            }
        };
        s.generation[index] = s.generation[index].wrapping_add(1) & 0x7FFF_FFFF;
        s.live[index] = true;
        s.data[index].clear();
        s.data[index].extend_from_slice(bytes);
        s.in_use += 1;
        Some((i64::from(s.generation[index]) << 32) | index as i64)
    }

    fn index(s: &Slots, handle: i64) -> Option<usize> {
        let index = (handle & 0xFFFF_FFFF) as usize;
        let generation = (handle >> 32) as u32;
        (handle >= 0 && index < s.live.len() && s.live[index] && s.generation[index] == generation)
            .then_some(index)
    }

    /// Copies the packet's bytes into `out`; false if the handle is not live.
    pub fn read_into(&self, handle: i64, out: &mut Vec<u8>) -> bool {
        let s = outbox::lock(&self.slots);
        let Some(i) = Self::index(&s, handle) else {
            return false;
        };
        out.clear();
        out.extend_from_slice(&s.data[i]);
        true
    }

    /// The packet's length, if the handle is live.
    pub fn len_of(&self, handle: i64) -> Option<usize> {
        let s = outbox::lock(&self.slots);
        Self::index(&s, handle).map(|i| s.data[i].len())
    }

    /// Frees the packet and returns its bytes (into `out`); false if the
    /// handle is not live.
    pub fn take_into(&self, handle: i64, out: &mut Vec<u8>) -> bool {
        let mut s = outbox::lock(&self.slots);
        let Some(i) = Self::index(&s, handle) else {
            return false;
        };
        std::mem::swap(out, &mut s.data[i]);
        s.live[i] = false;
        s.free.push(i as u32);
        s.in_use -= 1;
        true
    }

    /// Frees the packet; false if the handle is not live.
    pub fn free(&self, handle: i64) -> bool {
        let mut s = outbox::lock(&self.slots);
        let Some(i) = Self::index(&s, handle) else {
            return false;
        };
        s.live[i] = false;
        s.free.push(i as u32);
        s.in_use -= 1;
        true
    }

    /// Packets allocated and not freed.
    pub fn in_use(&self) -> usize {
        outbox::lock(&self.slots).in_use
    }
}

/// Where the driver's life is, as the host sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifeState {
    /// Not started yet.
    Idle,
    /// `start` sent, no answer yet.
    Starting,
    /// Started.
    Running,
    /// `startFailed` came back (with its error).
    Failed(i64),
    /// `stop` or `unplugged` sent, no `stopComplete` yet.
    Stopping,
    /// `stopComplete` came back.
    Stopped,
}

/// The interface's state, as the host sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfState {
    /// Down.
    Disabled,
    /// `enable` sent.
    Enabling,
    /// Up.
    Enabled,
    /// `disable` sent.
    Disabling,
}

/// Counters of a [`NetHost`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Packets handed to the driver.
    pub tx_sent: u64,
    /// Bytes in them.
    pub tx_bytes: u64,
    /// Packets the driver sent (`txPacketDone`).
    pub tx_done: u64,
    /// Packets the driver dropped (`txPacketAbort`).
    pub tx_aborted: u64,
    /// Frames the host dropped: backlog full, pool exhausted, interface down.
    pub tx_dropped: u64,
    /// Packets received from the driver.
    pub rx_packets: u64,
    /// Bytes in them.
    pub rx_bytes: u64,
    /// Times the driver stopped its queue.
    pub queue_stops: u64,
    /// Link changes reported.
    pub link_changes: u64,
    /// Messages from the driver that made no sense here (unknown handle,
    /// unexpected answer): each is also a protocol matter for the observer.
    pub odd: u64,
}

/// Message indices of the three protocols, looked up by name in the model.
#[derive(Clone, Copy, Debug)]
struct Ids {
    start: u16,
    stop: u16,
    unplugged: u16,
    start_complete: u16,
    start_failed: u16,
    stop_complete: u16,
    sleep: u16,
    wakeup: u16,
    sleep_complete: u16,
    wakeup_complete: u16,
    enable: u16,
    disable: u16,
    tx_packet: u16,
    enable_complete: u16,
    enable_failed: u16,
    disable_complete: u16,
    tx_done: u16,
    tx_abort: u16,
    stop_queue: u16,
    start_queue: u16,
    rx_packet: u16,
    link_up: u16,
    link_down: u16,
    set_multicast_complete: u16,
    stats_complete: u16,
}

impl Ids {
    fn find(model: &Model) -> Result<Ids, String> {
        let id = |protocol: &str, name: &str| -> Result<u16, String> {
            let p = model
                .protocol(protocol)
                .map(|id| model.proto(id))
                .ok_or_else(|| format!("the specs have no protocol `{protocol}`"))?;
            p.message(name)
                .map(|m| m.0 as u16)
                .ok_or_else(|| format!("`{protocol}` has no message `{name}`"))
        };
        let (lc, pm, eth) = ("Lifecycle", "PowerManagement", "EthernetController");
        Ok(Ids {
            start: id(lc, "start")?,
            stop: id(lc, "stop")?,
            unplugged: id(lc, "unplugged")?,
            start_complete: id(lc, "startComplete")?,
            start_failed: id(lc, "startFailed")?,
            stop_complete: id(lc, "stopComplete")?,
            sleep: id(pm, "sleep")?,
            wakeup: id(pm, "wakeup")?,
            sleep_complete: id(pm, "sleepComplete")?,
            wakeup_complete: id(pm, "wakeupComplete")?,
            enable: id(eth, "enable")?,
            disable: id(eth, "disable")?,
            tx_packet: id(eth, "txPacket")?,
            enable_complete: id(eth, "enableComplete")?,
            enable_failed: id(eth, "enableFailed")?,
            disable_complete: id(eth, "disableComplete")?,
            tx_done: id(eth, "txPacketDone")?,
            tx_abort: id(eth, "txPacketAbort")?,
            stop_queue: id(eth, "txStopQueue")?,
            start_queue: id(eth, "txStartQueue")?,
            rx_packet: id(eth, "rxPacket")?,
            link_up: id(eth, "linkUp")?,
            link_down: id(eth, "linkDown")?,
            set_multicast_complete: id(eth, "setMulticastComplete")?,
            stats_complete: id(eth, "statsComplete")?,
        })
    }
}

/// The driver's port indices (`Wire::port`) for the three protocols.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetPorts {
    /// The `Lifecycle` port.
    pub lc: u16,
    /// The `PowerManagement` port.
    pub pm: u16,
    /// The `EthernetController` port.
    pub eth: u16,
}

impl NetPorts {
    /// The indices of the ports called `lc`, `pm` and `eth` in a
    /// component's port list (`Component::port_names()`).
    pub fn by_name(port_names: &[&str], lc: &str, pm: &str, eth: &str) -> Result<NetPorts, String> {
        let find = |name: &str| {
            port_names
                .iter()
                .position(|p| *p == name)
                .map(|i| i as u16)
                .ok_or_else(|| format!("the component has no port `{name}`"))
        };
        Ok(NetPorts {
            lc: find(lc)?,
            pm: find(pm)?,
            eth: find(eth)?,
        })
    }
}

struct State {
    life: LifeState,
    iface: IfState,
    queue_stopped: bool,
    /// Whether the power manager put the device to sleep (or is doing so).
    asleep: bool,
    power_busy: bool,
    link_mbps: Option<u32>,
    /// Packets out with the driver.
    outstanding: usize,
    /// Frames accepted from the OS, waiting to be sent.
    backlog: VecDeque<i64>,
    stats: NetStats,
    outbox: Outbox,
}

/// The OS end of one network driver (see the module docs).
pub struct NetHost {
    ids: Ids,
    ports: NetPorts,
    pool: Arc<PacketPool>,
    tx_limit: usize,
    backlog_limit: usize,
    state: Mutex<State>,
    changed: Condvar,
    driver: OnceLock<Peer>,
    receiver: OnceLock<Receiver>,
}

impl NetHost {
    /// A host for a driver whose specs are `model`, with its ports at
    /// `ports`, sharing `pool`. It keeps at most `tx_limit` packets out
    /// with the driver (the driver's transmit ring depth, see the module
    /// docs) and at most `backlog_limit` frames waiting (like a qdisc's
    /// queue length; more are dropped and counted).
    pub fn new(
        model: &Model,
        ports: NetPorts,
        pool: Arc<PacketPool>,
        tx_limit: usize,
        backlog_limit: usize,
    ) -> Result<Arc<NetHost>, String> {
        Ok(Arc::new(NetHost {
            ids: Ids::find(model)?,
            ports,
            pool,
            tx_limit: tx_limit.max(1),
            backlog_limit,
            state: Mutex::new(State {
                life: LifeState::Idle,
                iface: IfState::Disabled,
                queue_stopped: false,
                asleep: false,
                power_busy: false,
                link_mbps: None,
                outstanding: 0,
                backlog: VecDeque::new(),
                stats: NetStats::default(),
                outbox: Outbox::default(),
            }),
            changed: Condvar::new(),
            driver: OnceLock::new(),
            receiver: OnceLock::new(),
        }))
    }

    /// The peer to connect the driver's `lc`, `pm` and `eth` ports to.
    pub fn peer(self: &Arc<Self>) -> Peer {
        let me = self.clone();
        Arc::new(move |w: Wire| me.on_driver_message(w))
    }

    /// Where messages to the driver go (`DriverHandle::as_peer`).
    pub fn attach(&self, driver: Peer) {
        let _ = self.driver.set(driver);
    }

    /// Where received frames go (set once).
    pub fn set_receiver(&self, receiver: Receiver) {
        let _ = self.receiver.set(receiver);
    }

    /// The shared packet pool.
    pub fn pool(&self) -> &Arc<PacketPool> {
        &self.pool
    }

    /// The counters.
    pub fn stats(&self) -> NetStats {
        self.lock().stats
    }

    /// The driver's life as the host sees it.
    pub fn life(&self) -> LifeState {
        self.lock().life
    }

    /// The interface state.
    pub fn iface(&self) -> IfState {
        self.lock().iface
    }

    /// The link speed, if the link is up.
    pub fn link(&self) -> Option<u32> {
        self.lock().link_mbps
    }

    /// Packets out with the driver, and frames waiting in the backlog.
    pub fn in_flight(&self) -> (usize, usize) {
        let st = self.lock();
        (st.outstanding, st.backlog.len())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        outbox::lock(&self.state)
    }

    fn flush(&self, st: MutexGuard<'_, State>) {
        self.changed.notify_all();
        outbox::flush(&self.state, st, |s| &mut s.outbox, self.driver.get());
    }

    fn send(&self, st: &mut State, port: u16, message: u16, args: &[i64]) {
        st.outbox
            .push(Wire::new(port, message, false).with_args(args));
    }

    /// Waits until `done(state)` holds, for at most `timeout`.
    fn wait(&self, timeout: Duration, mut done: impl FnMut(&State) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        loop {
            if done(&st) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = match self.changed.wait_timeout(st, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Starts the driver and waits for its answer.
    pub fn start(&self, timeout: Duration) -> Result<(), String> {
        let mut st = self.lock();
        if st.life != LifeState::Idle {
            return Err(format!("cannot start: the driver is {:?}", st.life));
        }
        st.life = LifeState::Starting;
        self.send(&mut st, self.ports.lc, self.ids.start, &[]);
        self.flush(st);
        if !self.wait(timeout, |s| s.life != LifeState::Starting) {
            return Err("the driver did not answer `start` in time".into());
        }
        match self.life() {
            LifeState::Running => Ok(()),
            other => Err(format!("the driver did not start: {other:?}")),
        }
    }

    /// Stops the driver (`stop`, or `unplugged` when `unplug`) and waits for
    /// `stopComplete`.
    pub fn stop(&self, unplug: bool, timeout: Duration) -> Result<(), String> {
        let mut st = self.lock();
        match (st.life, unplug) {
            (LifeState::Running, _) | (LifeState::Idle | LifeState::Starting, true) => {}
            (LifeState::Stopping, true) => {}
            (life, _) => return Err(format!("cannot stop: the driver is {life:?}")),
        }
        st.life = LifeState::Stopping;
        let message = if unplug {
            self.ids.unplugged
        } else {
            self.ids.stop
        };
        self.drop_backlog(&mut st);
        self.send(&mut st, self.ports.lc, message, &[]);
        self.flush(st);
        if self.wait(timeout, |s| s.life == LifeState::Stopped) {
            Ok(())
        } else {
            Err("the driver did not answer with `stopComplete` in time".into())
        }
    }

    /// Brings the interface up and waits for the answer.
    pub fn enable(&self, timeout: Duration) -> Result<(), String> {
        let mut st = self.lock();
        if st.life != LifeState::Running || st.iface != IfState::Disabled {
            return Err(format!("cannot enable: {:?}, {:?}", st.life, st.iface));
        }
        st.iface = IfState::Enabling;
        st.queue_stopped = false;
        self.send(&mut st, self.ports.eth, self.ids.enable, &[]);
        self.flush(st);
        if !self.wait(timeout, |s| s.iface != IfState::Enabling) {
            return Err("the driver did not answer `enable` in time".into());
        }
        match self.iface() {
            IfState::Enabled => Ok(()),
            other => Err(format!("enable failed: {other:?}")),
        }
    }

    /// Brings the interface down and waits for `disableComplete`.
    pub fn disable(&self, timeout: Duration) -> Result<(), String> {
        let mut st = self.lock();
        if st.iface != IfState::Enabled {
            return Err(format!("cannot disable: {:?}", st.iface));
        }
        st.iface = IfState::Disabling;
        self.drop_backlog(&mut st);
        self.send(&mut st, self.ports.eth, self.ids.disable, &[]);
        self.flush(st);
        if self.wait(timeout, |s| s.iface == IfState::Disabled) {
            Ok(())
        } else {
            Err("the driver did not answer `disable` in time".into())
        }
    }

    /// Puts the device to sleep at power `level` (1..=3) and waits.
    pub fn sleep(&self, level: i64, timeout: Duration) -> Result<(), String> {
        let mut st = self.lock();
        if st.life != LifeState::Running || st.power_busy || st.asleep {
            return Err("cannot sleep now".into());
        }
        st.power_busy = true;
        st.asleep = true;
        self.send(&mut st, self.ports.pm, self.ids.sleep, &[level]);
        self.flush(st);
        if self.wait(timeout, |s| !s.power_busy) {
            Ok(())
        } else {
            Err("the driver did not answer `sleep` in time".into())
        }
    }

    /// Wakes the device and waits.
    pub fn wakeup(&self, timeout: Duration) -> Result<(), String> {
        let mut st = self.lock();
        if !st.asleep || st.power_busy {
            return Err("cannot wake up now".into());
        }
        st.power_busy = true;
        self.send(&mut st, self.ports.pm, self.ids.wakeup, &[]);
        self.flush(st);
        if !self.wait(timeout, |s| !s.power_busy) {
            return Err("the driver did not answer `wakeup` in time".into());
        }
        let mut st = self.lock();
        st.asleep = false;
        self.pump(&mut st);
        self.flush(st);
        Ok(())
    }

    /// Waits until the link is up (`true`) or down.
    pub fn wait_link(&self, up: bool, timeout: Duration) -> bool {
        self.wait(timeout, |s| s.link_mbps.is_some() == up)
    }

    /// Waits until every packet came back and the backlog is empty.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        self.wait(timeout, |s| s.outstanding == 0 && s.backlog.is_empty())
    }

    /// Hands the driver a frame to send (or queues it). Returns false if it
    /// was dropped: interface down, pool exhausted or backlog full.
    pub fn transmit(&self, frame: &[u8]) -> bool {
        let mut st = self.lock();
        if st.iface != IfState::Enabled || st.life != LifeState::Running {
            st.stats.tx_dropped += 1;
            return false;
        }
        if st.backlog.len() >= self.backlog_limit {
            st.stats.tx_dropped += 1;
            return false;
        }
        let Some(p) = self.pool.alloc(frame) else {
            st.stats.tx_dropped += 1;
            return false;
        };
        st.backlog.push_back(p);
        self.pump(&mut st);
        self.flush(st);
        true
    }

    /// Sends what the transmit rule allows from the backlog.
    fn pump(&self, st: &mut State) {
        while st.iface == IfState::Enabled
            && st.life == LifeState::Running
            && !st.asleep
            && !st.queue_stopped
            && st.outstanding < self.tx_limit
        {
            let Some(p) = st.backlog.pop_front() else {
                break;
            };
            st.outstanding += 1;
            st.stats.tx_sent += 1;
            st.stats.tx_bytes += self.pool.len_of(p).unwrap_or(0) as u64;
            self.send(st, self.ports.eth, self.ids.tx_packet, &[p]);
        }
    }

    fn drop_backlog(&self, st: &mut State) {
        while let Some(p) = st.backlog.pop_front() {
            self.pool.free(p);
            st.stats.tx_dropped += 1;
        }
    }

    fn packet_back(&self, st: &mut State, p: i64, sent: bool) {
        if !self.pool.free(p) || st.outstanding == 0 {
            st.stats.odd += 1;
            return;
        }
        st.outstanding -= 1;
        if sent {
            st.stats.tx_done += 1;
        } else {
            st.stats.tx_aborted += 1;
        }
    }

    /// A message from the driver.
    fn on_driver_message(&self, w: Wire) {
        let ids = &self.ids;
        let arg = w.args().first().copied().unwrap_or(0);
        let mut received = None;
        let mut st = self.lock();
        let m = w.message;
        if w.port == self.ports.lc {
            if m == ids.start_complete {
                st.life = LifeState::Running;
            } else if m == ids.start_failed {
                st.life = LifeState::Failed(arg);
            } else if m == ids.stop_complete {
                st.life = LifeState::Stopped;
                st.iface = IfState::Disabled;
                st.link_mbps = None;
                self.drop_backlog(&mut st);
            } else {
                st.stats.odd += 1;
            }
        } else if w.port == self.ports.pm {
            if m == ids.sleep_complete || m == ids.wakeup_complete {
                st.power_busy = false;
            } else {
                st.stats.odd += 1;
            }
        } else if w.port == self.ports.eth {
            if m == ids.tx_done {
                self.packet_back(&mut st, arg, true);
            } else if m == ids.tx_abort {
                self.packet_back(&mut st, arg, false);
            } else if m == ids.rx_packet {
                let mut frame = Vec::new();
                if self.pool.take_into(arg, &mut frame) {
                    st.stats.rx_packets += 1;
                    st.stats.rx_bytes += frame.len() as u64;
                    received = Some(frame);
                } else {
                    st.stats.odd += 1;
                }
            } else if m == ids.stop_queue {
                st.queue_stopped = true;
                st.stats.queue_stops += 1;
            } else if m == ids.start_queue {
                st.queue_stopped = false;
            } else if m == ids.enable_complete {
                st.iface = IfState::Enabled;
                st.queue_stopped = false;
            } else if m == ids.enable_failed {
                st.iface = IfState::Disabled;
            } else if m == ids.disable_complete {
                st.iface = IfState::Disabled;
                st.link_mbps = None;
            } else if m == ids.link_up {
                st.link_mbps = Some(arg.clamp(0, i64::from(u32::MAX)) as u32);
                st.stats.link_changes += 1;
            } else if m == ids.link_down {
                st.link_mbps = None;
                st.stats.link_changes += 1;
            } else if m == ids.set_multicast_complete || m == ids.stats_complete {
                // Answers to requests this host does not make yet.
            } else {
                st.stats.odd += 1;
            }
        } else {
            st.stats.odd += 1;
        }
        self.pump(&mut st);
        self.flush(st);
        if let (Some(frame), Some(r)) = (received, self.receiver.get()) {
            r(&frame);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_refuses_stale_and_forged_handles() {
        let pool = PacketPool::new(2);
        let a = pool.alloc(b"abc").unwrap();
        let b = pool.alloc(b"de").unwrap();
        assert_eq!(pool.alloc(b"f"), None, "capacity");
        let mut out = Vec::new();
        assert!(pool.read_into(a, &mut out));
        assert_eq!(out, b"abc");
        assert!(pool.free(a));
        assert!(!pool.free(a), "double free");
        let c = pool.alloc(b"xyz").unwrap();
        assert_ne!(a, c, "the reused slot has a new generation");
        assert!(!pool.read_into(a, &mut out), "stale handle");
        assert!(!pool.read_into(-5, &mut out));
        assert!(!pool.read_into(i64::MAX, &mut out));
        assert!(pool.take_into(b, &mut out));
        assert_eq!(out, b"de");
        assert_eq!(pool.in_use(), 1);
    }
}
