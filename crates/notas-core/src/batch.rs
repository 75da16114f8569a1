//! Groups concurrent submissions into batches, so that many requests share one MySQL
//! transaction, and answers each submitter only once its batch has been flushed.
//!
//! Each [`Batcher`] owns one background task. The task waits for a free flush slot
//! (`concurrency` batches may be in flight at once), then takes the first waiting item
//! and whatever else arrives within `max_wait`, up to `max_size`, and flushes them
//! together. Under load the queue fills while every slot is busy, so batches grow by
//! themselves; at low load a lone request waits at most `max_wait`.
//!
//! Shutdown needs no signal of its own: when the last [`Batcher`] handle is dropped the
//! task drains what is queued, waits for the flushes in flight, and ends, so the
//! services await its [`JoinHandle`] after their servers have stopped.

use std::{future::Future, sync::Arc, time::Duration};
use tokio::{
    sync::{Semaphore, mpsc, oneshot},
    task::{JoinHandle, JoinSet},
    time::{Instant, timeout_at},
};

/// How batches are formed.
#[derive(Debug, Clone, Copy)]
pub struct BatchConfig {
    /// Most items in one batch.
    pub max_size: usize,
    /// Longest a batch waits for more items once it has its first.
    pub max_wait: Duration,
    /// Batches flushed at the same time (each holds one database connection).
    pub concurrency: usize,
    /// Items that may wait in the queue before submitters are slowed down.
    pub queue: usize,
}

/// Why a submitted item has no result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BatchError<E> {
    /// The flush failed; every item of the batch gets the same error.
    #[error(transparent)]
    Flush(E),
    /// The batcher has stopped (the service is shutting down).
    #[error("the batch writer has stopped")]
    Stopped,
}

/// A writer a [`Batcher`] hands each batch to: one result per item, in order. Its
/// implementations are the routes' writers: `mysql::grades::RouteWriter` (route 1) and
/// redis-api's `Writer` (route 2).
pub trait Flush: Send + Sync + 'static {
    type Item: Send + 'static;
    type Output: Send + 'static;
    type Error: Clone + Send + 'static;

    fn flush(
        &self,
        items: Vec<Self::Item>,
    ) -> impl Future<Output = Result<Vec<Self::Output>, Self::Error>> + Send;
}

/// What a submitter gets: its item's result, or why it has none.
pub type Reply<W> = Result<<W as Flush>::Output, BatchError<<W as Flush>::Error>>;

struct Job<W: Flush> {
    item: W::Item,
    reply: oneshot::Sender<Reply<W>>,
}

/// A handle to submit items to the writer `W`; cheap to clone.
pub struct Batcher<W: Flush> {
    jobs: mpsc::Sender<Job<W>>,
}

impl<W: Flush> Clone for Batcher<W> {
    fn clone(&self) -> Self {
        Batcher {
            jobs: self.jobs.clone(),
        }
    }
}

impl<W: Flush> Batcher<W> {
    /// Starts the batching task in front of `writer`.
    pub fn start(config: BatchConfig, writer: W) -> (Self, JoinHandle<()>) {
        let (jobs, queue) = mpsc::channel(config.queue.max(1));
        let task = tokio::spawn(run(config, queue, Arc::new(writer)));
        (Batcher { jobs }, task)
    }

    /// Queues `item` and waits until its batch is flushed.
    ///
    /// A submitter that stops waiting (its request timed out) before its batch is formed
    /// is left out of the batch, so a request answered with an error is not stored later.
    ///
    /// # Errors
    /// The flush's error, or [`BatchError::Stopped`] once the batcher has shut down.
    pub async fn submit(&self, item: W::Item) -> Reply<W> {
        let (reply, result) = oneshot::channel();
        self.jobs
            .send(Job { item, reply })
            .await
            .map_err(|_| BatchError::Stopped)?;
        result.await.unwrap_or(Err(BatchError::Stopped))
    }

    /// Queues every item, then waits for each result: one per item, in order. The items
    /// are batched as if as many callers had submitted them at once (grpc-server's
    /// `RegisterGrades`, whose grades arrive together).
    pub async fn submit_all(&self, items: impl IntoIterator<Item = W::Item>) -> Vec<Reply<W>> {
        let mut results = Vec::new();
        for item in items {
            let (reply, result) = oneshot::channel();
            // Refused once the batcher has stopped: the job, and with it `reply`, is
            // dropped, so `result` answers `Stopped` below.
            let _ = self.jobs.send(Job { item, reply }).await;
            results.push(result);
        }
        let mut replies = Vec::with_capacity(results.len());
        for result in results {
            replies.push(result.await.unwrap_or(Err(BatchError::Stopped)));
        }
        replies
    }
}

/// The batching task: forms each batch and hands it to `writer` in a flush slot of its own.
async fn run<W: Flush>(config: BatchConfig, mut queue: mpsc::Receiver<Job<W>>, writer: Arc<W>) {
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut in_flight = JoinSet::new();
    loop {
        let slot = slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let Some(first) = queue.recv().await else {
            break;
        };
        let mut jobs = vec![first];
        let deadline = Instant::now() + config.max_wait;
        while jobs.len() < config.max_size {
            // `timeout_at` polls the queue before the deadline, so items already queued
            // are taken even when `max_wait` is zero.
            match timeout_at(deadline, queue.recv()).await {
                Ok(Some(job)) => jobs.push(job),
                Ok(None) | Err(_) => break,
            }
        }
        jobs.retain(|job| !job.reply.is_closed());
        if jobs.is_empty() {
            continue;
        }
        metrics::histogram!("notas_batch_size").record(jobs.len() as f64);

        let writer = Arc::clone(&writer);
        in_flight.spawn(async move {
            let (items, replies): (Vec<W::Item>, Vec<_>) =
                jobs.into_iter().map(|j| (j.item, j.reply)).unzip();
            let started = Instant::now();
            let flushed = writer.flush(items).await;
            // A request waits for the batch in flight, then for its own: these times are
            // most of its latency under load (the bench reads them beside the p99).
            metrics::histogram!("notas_batch_flush_seconds")
                .record(started.elapsed().as_secs_f64());
            match flushed {
                Ok(results) => {
                    debug_assert_eq!(results.len(), replies.len(), "flush must answer every item");
                    for (reply, result) in replies.into_iter().zip(results) {
                        let _ = reply.send(Ok(result));
                    }
                }
                Err(error) => {
                    for reply in replies {
                        let _ = reply.send(Err(BatchError::Flush(error.clone())));
                    }
                }
            }
            drop(slot);
        });
        while in_flight.try_join_next().is_some() {}
    }
    while in_flight.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn config(max_size: usize) -> BatchConfig {
        BatchConfig {
            max_size,
            max_wait: Duration::from_millis(20),
            concurrency: 1,
            queue: 1000,
        }
    }

    /// Doubles each item after `pause`, and records the size of every batch it is handed.
    #[derive(Default)]
    struct Doubler {
        sizes: Arc<Mutex<Vec<usize>>>,
        pause: Duration,
    }

    impl Flush for Doubler {
        type Item = u32;
        type Output = u32;
        type Error = ();

        async fn flush(&self, items: Vec<u32>) -> Result<Vec<u32>, ()> {
            self.sizes.lock().unwrap().push(items.len());
            tokio::time::sleep(self.pause).await;
            Ok(items.into_iter().map(|i| i * 2).collect())
        }
    }

    /// Fails every batch.
    struct Down;

    impl Flush for Down {
        type Item = u32;
        type Output = u32;
        type Error = String;

        async fn flush(&self, _: Vec<u32>) -> Result<Vec<u32>, String> {
            Err("down".to_string())
        }
    }

    #[tokio::test]
    async fn concurrent_items_share_batches_and_get_their_own_results() {
        let doubler = Doubler::default();
        let sizes = Arc::clone(&doubler.sizes);
        let (batcher, task) = Batcher::start(config(10), doubler);
        let submits: Vec<_> = (0..25)
            .map(|i| {
                let b = batcher.clone();
                tokio::spawn(async move { (i, b.submit(i).await.unwrap()) })
            })
            .collect();
        for s in submits {
            let (i, doubled) = s.await.unwrap();
            assert_eq!(doubled, i * 2);
        }
        drop(batcher);
        task.await.unwrap();
        let sizes = sizes.lock().unwrap();
        assert_eq!(sizes.iter().sum::<usize>(), 25);
        assert!(sizes.iter().all(|s| *s <= 10), "{sizes:?}");
        assert!(sizes.len() < 25, "items were not batched: {sizes:?}");
    }

    #[tokio::test]
    async fn items_submitted_together_share_batches_and_get_their_results_in_order() {
        let doubler = Doubler::default();
        let sizes = Arc::clone(&doubler.sizes);
        let (batcher, task) = Batcher::start(config(10), doubler);
        let replies = batcher.submit_all(0..25).await;
        let doubled: Vec<u32> = replies.into_iter().map(Result::unwrap).collect();
        assert_eq!(doubled, (0..25).map(|i| i * 2).collect::<Vec<_>>());
        drop(batcher);
        task.await.unwrap();
        assert_eq!(*sizes.lock().unwrap(), [10, 10, 5]);
    }

    #[tokio::test]
    async fn a_failed_flush_fails_every_item_of_the_batch() {
        let (batcher, _task) = Batcher::start(config(10), Down);
        let err = batcher.submit(1).await.unwrap_err();
        assert!(matches!(err, BatchError::Flush(e) if e == "down"));
    }

    #[tokio::test]
    async fn dropping_every_handle_drains_the_queue_before_stopping() {
        let doubler = Doubler {
            pause: Duration::from_millis(5),
            ..Doubler::default()
        };
        let sizes = Arc::clone(&doubler.sizes);
        let (batcher, task) = Batcher::start(config(2), doubler);
        let pending: Vec<_> = (0..6)
            .map(|i| {
                let b = batcher.clone();
                tokio::spawn(async move { b.submit(i).await })
            })
            .collect();
        drop(batcher);
        for p in pending {
            p.await.unwrap().unwrap();
        }
        task.await.unwrap();
        assert_eq!(sizes.lock().unwrap().iter().sum::<usize>(), 6);
    }
}
