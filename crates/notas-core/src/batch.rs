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

struct Job<T, R, E> {
    item: T,
    reply: oneshot::Sender<Result<R, BatchError<E>>>,
}

/// A writer a [`Batcher`] hands each batch to: one result per item, in order.
pub trait Flush: Send + Sync + 'static {
    type Item: Send + 'static;
    type Output: Send + 'static;
    type Error: Clone + Send + 'static;

    fn flush(
        &self,
        items: Vec<Self::Item>,
    ) -> impl Future<Output = Result<Vec<Self::Output>, Self::Error>> + Send;
}

/// A handle to submit items; cheap to clone.
pub struct Batcher<T, R, E> {
    jobs: mpsc::Sender<Job<T, R, E>>,
}

impl<T, R, E> Clone for Batcher<T, R, E> {
    fn clone(&self) -> Self {
        Batcher {
            jobs: self.jobs.clone(),
        }
    }
}

impl<T, R, E> Batcher<T, R, E>
where
    T: Send + 'static,
    R: Send + 'static,
    E: Clone + Send + 'static,
{
    /// Starts the batching task. `flush` must return one result per item, in order.
    pub fn spawn<F, Fut>(config: BatchConfig, flush: F) -> (Self, JoinHandle<()>)
    where
        F: Fn(Vec<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<R>, E>> + Send + 'static,
    {
        let (jobs, queue) = mpsc::channel(config.queue.max(1));
        let task = tokio::spawn(run(config, queue, Arc::new(flush)));
        (Batcher { jobs }, task)
    }

    /// Starts the batching task in front of `writer`.
    pub fn start<W>(config: BatchConfig, writer: W) -> (Self, JoinHandle<()>)
    where
        W: Flush<Item = T, Output = R, Error = E>,
    {
        let writer = Arc::new(writer);
        Batcher::spawn(config, move |items| {
            let writer = Arc::clone(&writer);
            async move { writer.flush(items).await }
        })
    }

    /// Queues `item` and waits until its batch is flushed.
    ///
    /// A submitter that stops waiting (its request timed out) before its batch is formed
    /// is left out of the batch, so a request answered with an error is not stored later.
    ///
    /// # Errors
    /// The flush's error, or [`BatchError::Stopped`] once the batcher has shut down.
    pub async fn submit(&self, item: T) -> Result<R, BatchError<E>> {
        let (reply, result) = oneshot::channel();
        self.jobs
            .send(Job { item, reply })
            .await
            .map_err(|_| BatchError::Stopped)?;
        result.await.unwrap_or(Err(BatchError::Stopped))
    }
}

async fn run<T, R, E, F, Fut>(
    config: BatchConfig,
    mut queue: mpsc::Receiver<Job<T, R, E>>,
    flush: Arc<F>,
) where
    T: Send + 'static,
    R: Send + 'static,
    E: Clone + Send + 'static,
    F: Fn(Vec<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<R>, E>> + Send + 'static,
{
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

        let flush = Arc::clone(&flush);
        in_flight.spawn(async move {
            let (items, replies): (Vec<T>, Vec<_>) =
                jobs.into_iter().map(|j| (j.item, j.reply)).unzip();
            match flush(items).await {
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

    #[tokio::test]
    async fn concurrent_items_share_batches_and_get_their_own_results() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&sizes);
        let (batcher, task) = Batcher::<u32, u32, ()>::spawn(config(10), move |items: Vec<u32>| {
            seen.lock().unwrap().push(items.len());
            async move { Ok(items.into_iter().map(|i| i * 2).collect()) }
        });
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
    async fn a_failed_flush_fails_every_item_of_the_batch() {
        let (batcher, _task) =
            Batcher::<u32, u32, String>::spawn(config(10), |_| async { Err("down".to_string()) });
        let err = batcher.submit(1).await.unwrap_err();
        assert!(matches!(err, BatchError::Flush(e) if e == "down"));
    }

    #[tokio::test]
    async fn dropping_every_handle_drains_the_queue_before_stopping() {
        let flushed = Arc::new(Mutex::new(0));
        let count = Arc::clone(&flushed);
        let (batcher, task) = Batcher::<u32, (), ()>::spawn(config(2), move |items: Vec<u32>| {
            *count.lock().unwrap() += items.len();
            async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok(vec![(); items.len()])
            }
        });
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
        assert_eq!(*flushed.lock().unwrap(), 6);
    }
}
