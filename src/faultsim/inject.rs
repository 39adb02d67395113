//! I/O errors at the Nth operation: a `DiskHook` that fails the Nth call of one class of
//! operation (once, or that one and every later one) with a chosen OS error, the way
//! SQLite's test VFS and RocksDB's fault-injection file system do.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::disk::{DiskHook, Op, OpKind};

/// Which operations fail, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// The class of operation.
    pub kind: OpKind,
    /// The first failing call of that class, counted from 1.
    pub nth: u64,
    /// Every later call of that class fails too (a dead disk); otherwise only the Nth.
    pub forever: bool,
    /// The OS error (`libc` errno), e.g. 5 (EIO) or 28 (ENOSPC).
    pub errno: i32,
}

/// EIO.
pub const EIO: i32 = 5;
/// ENOSPC.
pub const ENOSPC: i32 = 28;

/// A hook failing operations as its `Fault` says, counting every call by class.
#[derive(Debug, Default)]
pub struct Faults {
    fault: Mutex<Option<Fault>>,
    counts: Mutex<BTreeMap<OpKind, u64>>,
    /// Set once the fault fired.
    fired: AtomicBool,
    /// Where the fault first fired: the thread's name and the file.
    fired_on: Mutex<Option<(String, std::path::PathBuf)>>,
}

impl Faults {
    /// A hook that fails nothing (it only counts) until `set` arms it.
    pub fn new() -> Faults {
        Faults::default()
    }

    /// Arms `fault`, counting from now.
    pub fn set(&self, fault: Option<Fault>) {
        self.counts.lock().clear();
        self.fired.store(false, Ordering::Release);
        *self.fault.lock() = fault;
    }

    /// Whether the fault has fired.
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::Acquire)
    }

    /// Where the fault first fired: the thread's name and the file.
    pub fn fired_on(&self) -> Option<(String, std::path::PathBuf)> {
        self.fired_on.lock().clone()
    }

    /// Calls seen of `kind` since the last `set`.
    pub fn count(&self, kind: OpKind) -> u64 {
        self.counts.lock().get(&kind).copied().unwrap_or(0)
    }
}

impl DiskHook for Faults {
    fn before(&self, op: &Op<'_>) -> io::Result<()> {
        let n = {
            let mut counts = self.counts.lock();
            let c = counts.entry(op.kind()).or_insert(0);
            *c += 1;
            *c
        };
        let Some(f) = *self.fault.lock() else { return Ok(()) };
        if f.kind == op.kind() && (n == f.nth || (f.forever && n > f.nth)) {
            self.fired.store(true, Ordering::Release);
            let thread = std::thread::current().name().unwrap_or_default().to_owned();
            self.fired_on.lock().get_or_insert_with(|| (thread, op.path().to_owned()));
            return Err(io::Error::from_raw_os_error(f.errno));
        }
        Ok(())
    }

    fn after(&self, _op: &Op<'_>) {}
}
