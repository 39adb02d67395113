//! What one phase counted.

/// Kinds of failure kept per phase (the counts go on).
const FAILURES_KEPT: usize = 12;

/// The counts of one phase. Everything but `kills` and `reader_opens` must end at 0.
#[derive(Debug, Default)]
pub struct Tally {
    /// Children killed with SIGKILL.
    pub kills: u64,
    /// Acknowledged seqs (or, for repair and migrate, seqs the store held before) missing.
    pub acked_loss: u64,
    /// Seqs that were seen holding one event and later held another.
    pub seq_reuse: u64,
    /// Opens, reads or verifications that reported damage no crash can cause.
    pub false_corruption: u64,
    /// Read-only opens done by readers beside a writer.
    pub reader_opens: u64,
    /// Every other failure (a reader's error, a wrong event, a state that is neither before
    /// nor after, a child that failed, a state that differs from a replay), counted.
    pub other_failures: u64,
    /// The first message of each kind of failure, and how often that kind came.
    failures: Vec<(String, u64)>,
}

impl Tally {
    /// Counts `n` acknowledged seqs lost.
    pub fn loss(&mut self, n: u64, what: String) {
        self.acked_loss += n;
        self.keep(what);
    }

    /// Counts a seq that changed its event.
    pub fn reuse(&mut self, what: String) {
        self.seq_reuse += 1;
        self.keep(what);
    }

    /// Counts a false corruption report.
    pub fn false_corruption(&mut self, what: String) {
        self.false_corruption += 1;
        self.keep(what);
    }

    /// Counts any other failure.
    pub fn other(&mut self, what: String) {
        self.other_failures += 1;
        self.keep(what);
    }

    /// Adds a reader's counts.
    pub fn absorb(&mut self, reader: Tally) {
        self.acked_loss += reader.acked_loss;
        self.seq_reuse += reader.seq_reuse;
        self.false_corruption += reader.false_corruption;
        self.reader_opens += reader.reader_opens;
        self.other_failures += reader.other_failures;
        for (what, n) in reader.failures {
            self.keep_n(what, n);
        }
    }

    fn keep(&mut self, what: String) {
        self.keep_n(what, 1);
    }

    /// Keeps `what` unless a failure of its kind (the same message up to its numbers) is
    /// kept already; counts it either way.
    fn keep_n(&mut self, what: String, n: u64) {
        let kind = kind_of(&what);
        if let Some((_, count)) = self.failures.iter_mut().find(|(kept, _)| kind_of(kept) == kind) {
            *count += n;
        } else if self.failures.len() < FAILURES_KEPT {
            self.failures.push((what, n));
        }
    }

    /// The first failure of each kind, with how often that kind came.
    pub fn failures(&self) -> &[(String, u64)] {
        &self.failures
    }

    /// True when nothing went wrong.
    pub fn is_clean(&self) -> bool {
        self.acked_loss == 0 && self.seq_reuse == 0 && self.false_corruption == 0 && self.other_failures == 0
    }

    /// `phase writer: 100 kills, acknowledged loss 0, seq reuse 0, false corruption reports 0,
    /// other failures 0 (reader opens 321)`.
    pub fn line(&self, phase: &str) -> String {
        format!(
            "phase {phase}: {} kills, acknowledged loss {}, seq reuse {}, false corruption reports {}, other failures {} (reader opens {})",
            self.kills,
            self.acked_loss,
            self.seq_reuse,
            self.false_corruption,
            self.other_failures,
            self.reader_opens
        )
    }
}

/// A message's kind: the message with every run of digits replaced by `#`, cut to 120
/// characters.
fn kind_of(what: &str) -> String {
    let mut kind = String::new();
    for c in what.chars() {
        match c {
            '0'..='9' if kind.ends_with('#') => {}
            '0'..='9' => kind.push('#'),
            c => kind.push(c),
        }
    }
    kind.chars().take(120).collect()
}
