//! The sampling loop: every interval, a new [`Reading`] of the `/proc` tree, compared with
//! the previous one into a [`Sample`] and the watched processes' [`ProcessTotals`], then
//! published. A failed
//! reading or a failed publish is logged and the next round tries again: the monitor
//! outlives Redis outages.

use crate::{
    proc_stats::{Reading, Sample},
    process_totals::ProcessTotals,
    publish::Publisher,
};
use notas_core::shutdown::CancellationToken;
use procfs::ProcResult;
use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use tokio::time::{Instant, MissedTickBehavior};

pub struct Sampler {
    proc_root: PathBuf,
    previous: Reading,
    totals: ProcessTotals,
    publisher: Publisher,
    /// Set once the first sample is taken (for `/readyz`).
    sampled: Arc<AtomicBool>,
}

impl Sampler {
    /// Takes the first reading, which the first sample is compared with.
    ///
    /// # Errors
    /// `proc_root` is not a readable `/proc` tree.
    pub async fn start(
        proc_root: PathBuf,
        watched: &[String],
        publisher: Publisher,
        sampled: Arc<AtomicBool>,
    ) -> ProcResult<Sampler> {
        let totals = ProcessTotals::new(watched);
        let previous = read(proc_root.clone(), totals.names()).await?;
        Ok(Sampler {
            proc_root,
            totals,
            previous,
            publisher,
            sampled,
        })
    }

    /// Samples every `period` until `shutdown` is cancelled. Not `shutdown::every`: its
    /// first round runs at once, and a sample needs a whole period since the last reading.
    pub async fn run(mut self, period: Duration, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval_at(Instant::now() + period, period);
        // After a stall, one late sample over a longer period rather than a burst of
        // samples over a few milliseconds each.
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            self.round().await;
        }
    }

    async fn round(&mut self) {
        let reading = match read(self.proc_root.clone(), self.totals.names()).await {
            Ok(reading) => reading,
            Err(e) => {
                tracing::warn!(error = %e, root = %self.proc_root.display(), "cannot read /proc; skipping this sample");
                return;
            }
        };
        let sample = Sample::between(&self.previous, &reading);
        let processes = self.totals.between(&self.previous, &reading);
        self.previous = reading;
        self.sampled.store(true, Ordering::Release);
        if let Err(e) = self.publisher.publish(&sample, &processes).await {
            tracing::warn!(error = %e, "sample not published to Redis; the next one will try again");
        }
    }
}

/// Reads the tree off the async workers: hundreds of small blocking reads.
async fn read(root: PathBuf, watched: Arc<[String]>) -> ProcResult<Reading> {
    tokio::task::spawn_blocking(move || Reading::take(&root, &watched))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}
