package io.mtpf.pretrain;

import io.mtpf.MtpfException;
import io.mtpf.TokenStateSource;
import io.mtpf.data.BadLines;
import io.mtpf.tokenizer.LengthBatches;
import io.mtpf.tokenizer.Encoding;
import io.mtpf.tokenizer.WordPieceTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * The two measurements behind the paper's §5 (Fig. 3), taken on a fixed sample so that values are comparable
 * across the steps of a run and across runs with the same seed:
 *
 * <ul>
 *   <li>{@value #TOKEN_COSINE} (Finding 2): the mean pairwise cosine similarity of the last-layer token states
 *       within a sentence (word tokens only: no [CLS]/[SEP], no padding), averaged over the sampled sentences.
 *       Rising values mean the tokens of an input become alike, which contrastive pre-finetuning for text
 *       classification causes and NER suffers from.
 *   <li>{@value #ENTITY_SWAP_COSINE} (Finding 1): for sampled sentences of a labelled NER set, {@value
 *       #VARIANTS_PER_SENTENCE} variants each with every entity replaced by a random other entity of the same type;
 *       the mean cosine between the mean-pooled embedding (all attended tokens, specials included) of the original
 *       and of each variant. Rising values mean sentence embeddings stop seeing which entities a sentence names,
 *       which NER pre-finetuning causes and text classification suffers from.
 * </ul>
 *
 * Only the word lists are fixed at construction; they are tokenized with the measured model's tokenizer.
 */
public final class InterferenceProbes {
  public static final String TOKEN_COSINE = "token_cosine";
  public static final String ENTITY_SWAP_COSINE = "entity_swap_cosine";
  public static final int VARIANTS_PER_SENTENCE = 4;
  /** The paper's perturbed set is built from the CoNLL-2003 test split. */
  public static final String CONLL_TEST = "conll2003/test.txt.gz";
  static final int BATCH_SIZE = 32;

  /** An original sentence and its entity-swapped variants. */
  public record EntitySwap(List<String> original, List<List<String>> variants) {}

  private final List<List<String>> tokenSample;
  private final List<EntitySwap> swapSample;
  private final int maxLength;

  /**
   * @param tokenSentences sentences (word lists) for the token probe; those with fewer than two words are not drawn
   * @param entitySentences labelled sentences for the entity-swap probe; empty = no entity probe
   * @param entityPool distinct surface forms by entity type (see {@link EntitySentences#entityPool})
   * @param sampleSize sentences drawn for each probe (fewer when fewer qualify)
   * @param maxLength token limit per sentence, special tokens included (capped by the tokenizer's)
   */
  public InterferenceProbes(List<List<String>> tokenSentences, List<EntitySentences.Sentence> entitySentences,
      Map<String, List<List<String>>> entityPool, int sampleSize, long seed, int maxLength) {
    if (sampleSize <= 0) throw new MtpfException("interference probes: sample size must be positive, got " + sampleSize);
    if (maxLength < 4) throw new MtpfException("interference probes: max length must be at least 4, got " + maxLength);
    this.maxLength = maxLength;
    this.tokenSample = sampleTokenSentences(tokenSentences, sampleSize, new Random(seed));
    // A stream of its own, so the entity sample does not move when the token sentences change.
    this.swapSample = sampleEntitySwaps(entitySentences, entityPool, sampleSize, new Random(seed + 0x9E3779B97F4A7C15L));
    if (tokenSample.isEmpty()) throw new MtpfException("interference probes: no sentence with two or more words");
  }

  /**
   * Probes for a pre-finetuning run: the token probe on {@code tokenSentences}, and the entity probe on
   * {@value #CONLL_TEST} when {@code dataDir} (may be null) has it. With no token sentences the CoNLL sentences
   * serve both probes. Malformed CoNLL lines are errors.
   */
  public static InterferenceProbes forRun(Path dataDir, List<List<String>> tokenSentences, int sampleSize, long seed,
      int maxLength) {
    return forRun(dataDir, tokenSentences, sampleSize, seed, maxLength, BadLines.fail());
  }

  public static InterferenceProbes forRun(Path dataDir, List<List<String>> tokenSentences, int sampleSize, long seed,
      int maxLength, BadLines bad) {
    Path conll = dataDir == null ? null : dataDir.resolve(CONLL_TEST);
    boolean haveTokens = tokenSentences != null && !tokenSentences.isEmpty();
    if (conll == null || !Files.isRegularFile(conll)) {
      if (!haveTokens) {
        throw new MtpfException((conll == null ? "no data folder" : conll + " is absent")
            + " and no sentences were given: nothing to run the interference probes on");
      }
      return new InterferenceProbes(tokenSentences, List.of(), Map.of(), sampleSize, seed, maxLength);
    }
    List<EntitySentences.Sentence> labelled = EntitySentences.read(conll, bad);
    List<List<String>> tokens = haveTokens ? tokenSentences : labelled.stream().map(EntitySentences.Sentence::words).toList();
    return new InterferenceProbes(tokens, labelled, EntitySentences.entityPool(labelled), sampleSize, seed, maxLength);
  }

  public boolean hasEntityProbe() {
    return !swapSample.isEmpty();
  }

  public List<List<String>> tokenSample() {
    return tokenSample;
  }

  public List<EntitySwap> swapSample() {
    return swapSample;
  }

  /** {@value #TOKEN_COSINE}, and {@value #ENTITY_SWAP_COSINE} when {@link #hasEntityProbe()}; NaN if nothing counted. */
  public Map<String, Double> measure(TokenStateSource model, String adapter) {
    Map<String, Double> out = new LinkedHashMap<>();
    out.put(TOKEN_COSINE, tokenCosine(model, adapter));
    if (hasEntityProbe()) out.put(ENTITY_SWAP_COSINE, entitySwapCosine(model, adapter));
    return out;
  }

  private double tokenCosine(TokenStateSource model, String adapter) {
    int hidden = model.hiddenSize();
    double[] sum = new double[1];
    int[] counted = new int[1];
    forEachRow(model, adapter, encode(model.tokenizer(), tokenSample), (index, encoding, states, offset) -> {
      int[] wordIds = encoding.wordIds();
      int[] positions = new int[wordIds.length];
      int n = 0;
      for (int t = 0; t < wordIds.length; t++) if (wordIds[t] >= 0) positions[n++] = t;
      if (n < 2) return;  // a single token has no pair
      sum[0] += meanPairwiseCosine(states, offset, hidden, Arrays.copyOf(positions, n));
      counted[0]++;
    });
    return counted[0] == 0 ? Double.NaN : sum[0] / counted[0];
  }

  private double entitySwapCosine(TokenStateSource model, String adapter) {
    int group = 1 + VARIANTS_PER_SENTENCE;
    List<List<String>> sentences = new ArrayList<>(swapSample.size() * group);
    for (EntitySwap swap : swapSample) {
      sentences.add(swap.original());
      sentences.addAll(swap.variants());
    }
    int hidden = model.hiddenSize();
    float[][] pooled = new float[sentences.size()][];
    forEachRow(model, adapter, encode(model.tokenizer(), sentences),
        (index, encoding, states, offset) -> pooled[index] = meanPool(states, offset, hidden, encoding.length()));
    double sum = 0;
    int counted = 0;
    for (int g = 0; g < swapSample.size(); g++) {
      for (int v = 1; v < group; v++) {
        sum += cosine(pooled[g * group], pooled[g * group + v]);
        counted++;
      }
    }
    return counted == 0 ? Double.NaN : sum / counted;
  }

  private List<Encoding> encode(WordPieceTokenizer tokenizer, List<List<String>> sentences) {
    int limit = Math.min(maxLength, tokenizer.maxLength());
    List<Encoding> out = new ArrayList<>(sentences.size());
    for (List<String> words : sentences) out.add(tokenizer.encodeWords(words, limit));
    return out;
  }

  interface RowBody {
    /** {@code states[offset + t * hidden + k]} is feature k of token t of encoding {@code index}. */
    void accept(int index, Encoding encoding, float[] states, int offset);
  }

  /** Runs the model in batches of similar length (less padding) and hands each row to {@code body}. */
  static void forEachRow(TokenStateSource model, String adapter, List<Encoding> encodings, RowBody body) {
    int hidden = model.hiddenSize();
    LengthBatches.forEach(encodings, BATCH_SIZE, model.tokenizer().padId(), (batch, rows) -> {
      float[] states = model.tokenStates(batch, adapter);
      long expected = (long) batch.batchSize() * batch.seqLen() * hidden;
      if (states == null || states.length != expected) {
        throw new MtpfException("interference probes: the model returned " + (states == null ? "no" : states.length)
            + " values for a [" + batch.batchSize() + ", " + batch.seqLen() + ", " + hidden + "] batch");
      }
      for (int r = 0; r < rows.length; r++)
        body.accept(rows[r], encodings.get(rows[r]), states, r * batch.seqLen() * hidden);
    });
  }

  /**
   * Mean cosine over the pairs of the given token positions, in O(n·hidden) instead of O(n²·hidden): with unit
   * vectors u_i, the sum over pairs i&lt;j of u_i·u_j is (|Σu_i|² − Σ|u_i|²) / 2. A zero vector counts as
   * cosine 0 with everything.
   */
  static double meanPairwiseCosine(float[] states, int offset, int hidden, int[] positions) {
    int n = positions.length;
    double[] unitSum = new double[hidden];
    double selfSum = 0;
    for (int p : positions) {
      int base = offset + p * hidden;
      double norm = 0;
      for (int k = 0; k < hidden; k++) norm += (double) states[base + k] * states[base + k];
      if (norm == 0) continue;
      double inv = 1 / Math.sqrt(norm);
      for (int k = 0; k < hidden; k++) unitSum[k] += states[base + k] * inv;
      selfSum += 1;
    }
    double total = 0;
    for (double v : unitSum) total += v * v;
    return (total - selfSum) / 2 / ((double) n * (n - 1) / 2);
  }

  /** Mean over the first {@code length} tokens (all attended ones), as the encoder's mean pooling does. */
  static float[] meanPool(float[] states, int offset, int hidden, int length) {
    double[] sum = new double[hidden];
    for (int t = 0; t < length; t++) {
      int base = offset + t * hidden;
      for (int k = 0; k < hidden; k++) sum[k] += states[base + k];
    }
    float[] mean = new float[hidden];
    for (int k = 0; k < hidden; k++) mean[k] = (float) (sum[k] / length);
    return mean;
  }

  static double cosine(float[] a, float[] b) {
    double dot = 0, na = 0, nb = 0;
    for (int k = 0; k < a.length; k++) {
      dot += (double) a[k] * b[k];
      na += (double) a[k] * a[k];
      nb += (double) b[k] * b[k];
    }
    return na == 0 || nb == 0 ? 0 : dot / Math.sqrt(na * nb);
  }

  private static List<List<String>> sampleTokenSentences(List<List<String>> sentences, int sampleSize, Random rng) {
    List<List<String>> eligible = new ArrayList<>();
    for (List<String> words : sentences) if (words.size() >= 2) eligible.add(List.copyOf(words));
    Collections.shuffle(eligible, rng);
    return List.copyOf(eligible.subList(0, Math.min(sampleSize, eligible.size())));
  }

  private static List<EntitySwap> sampleEntitySwaps(List<EntitySentences.Sentence> sentences,
      Map<String, List<List<String>>> pool, int sampleSize, Random rng) {
    Map<String, List<String>> poolKeys = new LinkedHashMap<>();
    pool.forEach((type, forms) -> poolKeys.put(type, forms.stream().map(InterferenceProbes::surfaceKey).toList()));
    List<EntitySentences.Sentence> eligible = new ArrayList<>();
    for (EntitySentences.Sentence s : sentences) {
      boolean swappable = false;
      for (EntitySentences.Span span : s.entities()) swappable |= hasAlternative(s, span, poolKeys);
      if (swappable) eligible.add(s);
    }
    Collections.shuffle(eligible, rng);
    List<EntitySwap> out = new ArrayList<>();
    for (EntitySentences.Sentence s : eligible.subList(0, Math.min(sampleSize, eligible.size()))) {
      List<List<List<String>>> choices = new ArrayList<>();
      for (EntitySentences.Span span : s.entities()) choices.add(alternatives(s, span, pool, poolKeys));
      List<List<String>> variants = new ArrayList<>(VARIANTS_PER_SENTENCE);
      for (int v = 0; v < VARIANTS_PER_SENTENCE; v++) variants.add(swapEntities(s, choices, rng));
      out.add(new EntitySwap(s.words(), List.copyOf(variants)));
    }
    return List.copyOf(out);
  }

  /** One variant: every span with an alternative replaced by a random one (spans without keep their words). */
  private static List<String> swapEntities(EntitySentences.Sentence s, List<List<List<String>>> choices, Random rng) {
    List<String> words = new ArrayList<>(s.words().size());
    int next = 0;
    for (int i = 0; i < s.entities().size(); i++) {
      EntitySentences.Span span = s.entities().get(i);
      words.addAll(s.words().subList(next, span.start()));
      List<List<String>> options = choices.get(i);
      words.addAll(options.isEmpty() ? s.surface(span) : options.get(rng.nextInt(options.size())));
      next = span.end();
    }
    words.addAll(s.words().subList(next, s.words().size()));
    return List.copyOf(words);
  }

  /**
   * The pool's forms of the span's type other than the span's own, compared ignoring case so that a variant never
   * gives an uncased model the same input.
   */
  private static List<List<String>> alternatives(EntitySentences.Sentence s, EntitySentences.Span span,
      Map<String, List<List<String>>> pool, Map<String, List<String>> poolKeys) {
    String own = surfaceKey(s.surface(span));
    List<List<String>> forms = pool.getOrDefault(span.type(), List.of());
    List<String> keys = poolKeys.getOrDefault(span.type(), List.of());
    List<List<String>> out = new ArrayList<>();
    for (int i = 0; i < forms.size(); i++) if (!keys.get(i).equals(own)) out.add(forms.get(i));
    return out;
  }

  private static boolean hasAlternative(EntitySentences.Sentence s, EntitySentences.Span span,
      Map<String, List<String>> poolKeys) {
    String own = surfaceKey(s.surface(span));
    for (String key : poolKeys.getOrDefault(span.type(), List.of())) if (!key.equals(own)) return true;
    return false;
  }

  static String surfaceKey(List<String> words) {
    return String.join(" ", words).toLowerCase(Locale.ROOT);
  }

  @Override
  public String toString() {
    String tokens = "token cosine over " + tokenSample.size() + " sentences";
    return hasEntityProbe()
        ? tokens + ", entity swap over " + swapSample.size() + " sentences x " + VARIANTS_PER_SENTENCE + " variants"
        : tokens + ", no entity probe";
  }
}
