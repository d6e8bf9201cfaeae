package io.mtpf.pretrain;

import io.mtpf.MtpfException;
import io.mtpf.data.PairDataset;
import io.mtpf.data.TextPair;
import io.mtpf.tokenizer.Batch;
import io.mtpf.tokenizer.Encoding;
import io.mtpf.tokenizer.LengthBatches;
import io.mtpf.tokenizer.WordPieceTokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Builds each step's batches from the data, deterministically from (seed, step) alone: a resumed run draws
 * exactly the batches the uninterrupted run would have, with no sampler state to save.
 *
 * <p>TC uses hierarchical sampling (paper Appendix B): draw a dataset (in proportion to its size), then a whole
 * batch of distinct pairs from that one dataset, so all in-batch negatives come from the same source.
 */
public final class TrainingData {
  private final List<PairDataset> pairs;
  private final long[] cumulative;
  private final List<PseudoLabels.Sentence> nerSentences;
  private final WordPieceTokenizer tokenizer;
  private final int tcBatch, tcMaxLength, nerBatch, nerMaxLength;
  private final long seed;
  private final int rank, world;

  public TrainingData(List<PairDataset> pairs, List<PseudoLabels.Sentence> nerSentences, WordPieceTokenizer tokenizer,
      int tcBatch, int tcMaxLength, int nerBatch, int nerMaxLength, long seed) {
    this(pairs, nerSentences, tokenizer, tcBatch, tcMaxLength, nerBatch, nerMaxLength, seed, 0, 1);
  }

  /**
   * One rank's view of the data of a job of {@code world} ranks: every rank draws the same global batch from
   * (seed, step), sorts it by length and keeps rows rank, rank + world, ... (equal counts, similar lengths on every
   * rank), so W ranks train on exactly the batches one process would. Batch sizes are global and must divide by W.
   */
  public TrainingData(List<PairDataset> pairs, List<PseudoLabels.Sentence> nerSentences, WordPieceTokenizer tokenizer,
      int tcBatch, int tcMaxLength, int nerBatch, int nerMaxLength, long seed, int rank, int world) {
    if (world < 1 || rank < 0 || rank >= world) throw new MtpfException("rank " + rank + " of " + world + " ranks");
    if (tcBatch % world != 0 || nerBatch % world != 0)
      throw new MtpfException("batch sizes are global: tc.batch_size " + tcBatch + " and ner.batch_size " + nerBatch
          + " must divide by the " + world + " ranks");
    this.rank = rank;
    this.world = world;
    this.pairs = pairs == null ? List.of() : List.copyOf(pairs);
    this.nerSentences = nerSentences == null ? List.of() : List.copyOf(nerSentences);
    this.tokenizer = tokenizer;
    this.tcBatch = tcBatch;
    this.tcMaxLength = tcMaxLength;
    this.nerBatch = nerBatch;
    this.nerMaxLength = nerMaxLength;
    this.seed = seed;
    cumulative = new long[this.pairs.size()];
    long total = 0;
    for (int i = 0; i < this.pairs.size(); i++) cumulative[i] = total += this.pairs.get(i).size();
    for (PairDataset d : this.pairs)
      if (d.size() < 2) throw new MtpfException("pair dataset '" + d.name() + "' has fewer than 2 pairs");
  }

  public boolean hasTc() {
    return !pairs.isEmpty();
  }

  public boolean hasNer() {
    return !nerSentences.isEmpty();
  }

  public StepBatches prepare(long step, boolean tc, boolean ner) {
    SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + step * 0xC2B2AE3D27D4EB4FL + 17);
    Batch anchors = null, positives = null, nerBatchOut = null;
    long[] labels = null;
    String dataset = null;
    long tokens = 0;
    if (tc) {
      PairDataset d = pickDataset(rng);
      dataset = d.name();
      int k = Math.min(tcBatch, d.size());
      int[] rows = distinct(rng, d.size(), k - k % world);  // a smaller dataset: a batch that still divides
      List<Encoding> a = new ArrayList<>(rows.length), b = new ArrayList<>(rows.length);
      for (int r : rows) {
        TextPair p = d.pairs().get(r);
        a.add(tokenizer.encode(p.anchor(), tcMaxLength));
        b.add(tokenizer.encode(p.positive(), tcMaxLength));
      }
      // Rows sorted by anchor length: GradCache chunks then hold sequences of similar length.
      Integer[] order = LengthBatches.byLength(a);
      List<Encoding> sa = new ArrayList<>(), sb = new ArrayList<>();
      for (int i = 0; i < rows.length; i++) tokens += a.get(i).length() + b.get(i).length();  // the global batch's
      for (int n = rank; n < order.length; n += world) {
        int i = order[n];
        sa.add(a.get(i));
        sb.add(b.get(i));
      }
      anchors = Batch.pad(sa, tokenizer.padId());
      positives = Batch.pad(sb, tokenizer.padId());
    }
    if (ner) {
      int k = Math.min(nerBatch, nerSentences.size());
      int[] rows = distinct(rng, nerSentences.size(), k - k % world);
      List<Encoding> all = new ArrayList<>(rows.length);
      for (int r : rows) all.add(tokenizer.encodeWords(nerSentences.get(r).words(), nerMaxLength));
      for (Encoding e : all) tokens += e.length();
      // Ranks take every world-th row of the length order, so that all ranks' shares have similar lengths; one
      // process keeps the sampled order.
      Integer[] order = new Integer[all.size()];
      for (int i = 0; i < order.length; i++) order[i] = i;
      if (world > 1) order = LengthBatches.byLength(all);
      List<Encoding> enc = new ArrayList<>(rows.length);
      List<int[]> tokenLabels = new ArrayList<>(rows.length);
      for (int n = rank; n < order.length; n += world) {
        Encoding e = all.get(order[n]);
        enc.add(e);
        tokenLabels.add(e.tokenLabels(nerSentences.get(rows[order[n]]).labels()));  // first sub-token, -100 elsewhere
      }
      nerBatchOut = Batch.pad(enc, tokenizer.padId());
      labels = nerBatchOut.padLabels(tokenLabels);
    }
    return new StepBatches(step, dataset, anchors, positives, nerBatchOut, labels, tokens);
  }

  private PairDataset pickDataset(SplittableRandom rng) {
    long x = rng.nextLong(cumulative[cumulative.length - 1]);
    for (int i = 0; i < cumulative.length; i++) if (x < cumulative[i]) return pairs.get(i);
    return pairs.get(pairs.size() - 1);
  }

  /** k distinct indices of [0, n), by a partial Fisher-Yates over a lazily materialised permutation. */
  static int[] distinct(SplittableRandom rng, int n, int k) {
    java.util.HashMap<Integer, Integer> swapped = new java.util.HashMap<>();
    int[] out = new int[k];
    for (int i = 0; i < k; i++) {
      int j = i + rng.nextInt(n - i);
      int vi = swapped.getOrDefault(i, i), vj = swapped.getOrDefault(j, j);
      swapped.put(j, vi);
      out[i] = vj;
    }
    return out;
  }
}
