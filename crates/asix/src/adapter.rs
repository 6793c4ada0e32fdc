//! One whole AX88772 adapter as the OS sees it: the chip model on a
//! simulated USB host controller, the bus driver, the Dingo driver, the
//! timer service and the OS end of the network ports, each driver under
//! its observer.
//!
//! ```text
//!   OS (NetHost) ══ lc, pm, eth ══▶ asix driver ══ usb, pipes ══▶ usb_bus driver
//!        ▲                            ║ timer                        │
//!        │ frames                     ▼                              ▼
//!   transmit / receiver         TimerService                   HostController
//!                                                                    │
//!                                                              AX88772 model ══ wire
//! ```

use crate::driver::{Ax88772, Bug, Config, RX_QUEUE_LEN, TX_QUEUE_LEN};
use devices::ax88772::{self as model, Ax88772 as Chip};
use dingo::wire::{Component, Wire};
use dingo::{DriverHandle, Observe, Peer, Runtime};
use dingo_host::TimerService;
use dingo_host::net::{NetHost, NetPorts, PacketPool};
use netwire::LinkEnd;
use spec_observers::asix::Asix;
use spec_observers::lifecycle::{In as Lc, Out as LcOut};
use spec_observers::usb_bus::{Event as BusEvent, UsbBus};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tingu_observer::{Config as ObserverConfig, Policy, Violation};
use usb::{Binding, BusDriver, HostController, UrbPool};

/// How an adapter is built.
#[derive(Clone, Debug)]
pub struct AdapterConfig {
    /// The chip model's settings (MAC, link partner, packing, faults).
    pub chip: model::Config,
    /// Receive URBs the driver keeps posted.
    pub rx_urbs: usize,
    /// The driver's pauses in percent of Linux's (0: 1 ms each).
    pub delay_percent: u32,
    /// The PHY poll period in milliseconds.
    pub poll_ms: u32,
    /// A protocol bug to inject into the driver.
    pub bug: Option<Bug>,
    /// Observe both drivers.
    pub observe: bool,
    /// What the observers do on a violation.
    pub policy: Policy,
    /// Frames the OS queues while the driver's queue is stopped.
    pub backlog: usize,
}

impl Default for AdapterConfig {
    fn default() -> Self {
        AdapterConfig {
            chip: model::Config::default(),
            rx_urbs: RX_QUEUE_LEN,
            delay_percent: 100,
            poll_ms: 1000,
            bug: None,
            observe: true,
            policy: Policy::Continue,
            backlog: 1000,
        }
    }
}

/// A running adapter (see the module docs).
pub struct Adapter {
    /// The chip model (plug a wire into it, inject faults).
    pub chip: Arc<Chip>,
    /// The USB host controller it is attached to.
    pub host: Arc<HostController>,
    /// The bus driver.
    pub bus: DriverHandle<UsbBus>,
    /// The AX88772 driver.
    pub driver: DriverHandle<Asix>,
    /// The OS end of the driver's network ports.
    pub net: Arc<NetHost>,
    /// The timer service the driver uses.
    pub timer: Arc<TimerService>,
    /// The bus driver's lifecycle answers (in a mutex so that an adapter is
    /// `Sync`, see [`crate::nic::Nic`]).
    bus_lc: Mutex<Receiver<Wire>>,
    violations: Arc<Mutex<Vec<String>>>,
}

impl Adapter {
    /// Builds and starts the drivers (not the device: see [`Adapter::bring_up`]).
    pub fn new(rt: &Runtime, config: AdapterConfig) -> Result<Adapter, String> {
        let urbs = UrbPool::new();
        let host = Arc::new(HostController::new(urbs.clone()));
        let chip = Arc::new(Chip::new(config.chip.clone()));
        host.attach(chip.clone())
            .map_err(|e| format!("cannot attach the chip: {e:?}"))?;
        let observe = Observe {
            enabled: config.observe,
            config: ObserverConfig {
                history: 32,
                policy: config.policy,
            },
        };
        let violations: Arc<Mutex<Vec<String>>> = Arc::default();
        let (bus_tx, bus_lc) = mpsc::channel();
        let bus_tx = Mutex::new(bus_tx);
        let bus_lc_peer: Peer = Arc::new(move |w| {
            if let Ok(tx) = bus_tx.lock() {
                let _ = tx.send(w);
            }
        });
        let ignore: Peer = Arc::new(|_| {});
        let binding = Binding::new::<Asix>("usb")?;
        let v = violations.clone();
        let bus = rt
            .driver(BusDriver::new(host.clone()), ())
            .connect("lc", bus_lc_peer)?
            .connect("pm", ignore)?
            .connect("client", binding.bus_peer())?
            .observe(observe)
            .on_violation(move |violation: &Violation| {
                if let Ok(mut v) = v.lock() {
                    v.push(format!("usb_bus: {violation}"));
                }
            })
            .start()?;
        let model = Asix::model();
        let packets = PacketPool::new(4096);
        let ports = NetPorts::by_name(Asix::port_names(), "lc", "pm", "eth")?;
        let net = NetHost::new(&model, ports, packets.clone(), TX_QUEUE_LEN, config.backlog)?;
        let timer = TimerService::new(rt, &model, "Timer")?;
        let driver_config = Config {
            packets,
            urbs,
            rx_urbs: config.rx_urbs,
            delay_percent: config.delay_percent,
            poll_ms: config.poll_ms,
            bug: config.bug,
        };
        let v = violations.clone();
        let driver = rt
            .driver(Ax88772::new(driver_config), ())
            .connect("lc", net.peer())?
            .connect("pm", net.peer())?
            .connect("eth", net.peer())?
            .connect("timer", timer.peer())?
            .connect("usb", binding.client_peer(&bus)?)?
            .observe(observe)
            .on_violation(move |violation: &Violation| {
                if let Ok(mut v) = v.lock() {
                    v.push(format!("asix: {violation}"));
                }
            })
            .start()?;
        binding.attach_client(&driver);
        net.attach(driver.as_peer());
        timer.attach(driver.as_peer());
        Ok(Adapter {
            chip,
            host,
            bus,
            driver,
            net,
            timer,
            bus_lc: Mutex::new(bus_lc),
            violations,
        })
    }

    /// Starts the bus driver and the AX88772 driver, and enables the
    /// interface.
    pub fn bring_up(&self, timeout: Duration) -> Result<(), String> {
        self.bus.deliver(BusEvent::Lc(Lc::Start).wire());
        let answer = self
            .bus_lc
            .lock()
            .map_err(|_| "the bus driver's answers are lost".to_string())?
            .recv_timeout(timeout)
            .map_err(|_| "the bus driver did not answer `start`".to_string())?;
        if LcOut::from_parts(answer.message, answer.args()) != Some(LcOut::StartComplete) {
            return Err(format!("the bus driver did not start: {answer:?}"));
        }
        self.net.start(timeout)?;
        self.net.enable(timeout)
    }

    /// Pulls the adapter out: the device goes away under the bus, and the
    /// OS tells the driver; waits for the driver's `stopComplete`.
    pub fn unplug(&self, timeout: Duration) -> Result<(), String> {
        self.host.unplug();
        self.net.stop(true, timeout)
    }

    /// Stops the driver (the OS's `stop`), then the bus driver, which
    /// unbinds it.
    pub fn shut_down(&self, timeout: Duration) -> Result<(), String> {
        self.net.stop(false, timeout)?;
        self.bus.deliver(BusEvent::Lc(Lc::Stop).wire());
        Ok(())
    }

    /// The observers' reports so far (both drivers), as text.
    pub fn violations(&self) -> Vec<String> {
        self.violations
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }
}

/// Plugs a chip into one end of a wire: frames cross both ways, and the
/// chip has carrier while both ends of the wire are plugged in.
pub fn plug(chip: &Arc<Chip>, end: LinkEnd) {
    end.attach(chip.clone());
    chip.attach_wire(Arc::new(end.clone()));
    let weak = Arc::downgrade(chip);
    end.on_carrier_change(move |carrier| {
        if let Some(chip) = weak.upgrade() {
            chip.set_carrier(carrier);
        }
    });
}
