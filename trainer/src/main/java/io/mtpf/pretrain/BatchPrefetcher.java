package io.mtpf.pretrain;

import io.mtpf.MtpfException;
import java.util.ArrayDeque;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Prepares the next steps' batches (tokenise, pad, sort) on a background thread while the native step runs, so
 * the device never waits on Java. Keeps {@code depth} steps in flight.
 */
final class BatchPrefetcher implements AutoCloseable {
  private final TrainingData data;
  private final boolean tc, ner;
  private final long lastStep;
  private final int depth;
  private final ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "mtpf-batches");
    t.setDaemon(true);
    return t;
  });
  private final ArrayDeque<Future<StepBatches>> queue = new ArrayDeque<>();
  private long next;

  BatchPrefetcher(TrainingData data, boolean tc, boolean ner, long firstStep, long lastStep, int depth) {
    this.data = data;
    this.tc = tc;
    this.ner = ner;
    this.next = firstStep;
    this.lastStep = lastStep;
    this.depth = depth;
    fill();
  }

  private void fill() {
    while (queue.size() < depth && next < lastStep) {
      long step = next++;
      queue.add(pool.submit(() -> data.prepare(step, tc, ner)));
    }
  }

  StepBatches take() {
    Future<StepBatches> f = queue.poll();
    if (f == null) throw new MtpfException("no more batches");
    fill();
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new MtpfException("interrupted while preparing batches", e);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof RuntimeException r) throw r;
      throw new MtpfException("preparing batches failed: " + c, c);
    }
  }

  @Override
  public void close() {
    pool.shutdownNow();
  }
}
