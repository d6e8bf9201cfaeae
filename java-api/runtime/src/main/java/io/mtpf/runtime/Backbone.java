package io.mtpf.runtime;

import io.mtpf.MtpfException;
import io.mtpf.TokenEmbeddings;
import io.mtpf.runtime.nativebind.MtpfRuntimeNative.NativeBackbone;
import io.mtpf.runtime.nativebind.MtpfRuntimeNative;
import io.mtpf.tokenizer.Encoding;
import io.mtpf.tokenizer.WordPieceTokenizer;
import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Function;

/**
 * One shared encoder in mtpf's libtorch-free runtime (the same on servers and on Android): an HF model folder's
 * weights, its tokenizer (plain Java), and any number of LoRA {@link Adapter adapters}. One forward serves a batch
 * whose texts each name their own adapter; the base matmuls are shared.
 *
 * <pre>{@code
 * try (Backbone bb = Backbone.load(Path.of("models/bge-small-en-v15"));
 *      Adapter ner = Adapter.load(Path.of("runs/eval/conll/adapter"))) {
 *   float[][] plain = bb.embed(List.of("a sentence"), null);
 *   List<Entity> entities = bb.tag("Angela Merkel met Emmanuel Macron in Paris.", ner);
 * }
 * }</pre>
 *
 * Owns native memory: close it. Safe for concurrent callers (forwards run in parallel; loading an adapter waits for
 * them). Texts are sorted by length before batching so that batches carry little padding.
 */
public final class Backbone implements AutoCloseable {
  private final String dir;
  private final BackboneOptions options;
  private final WordPieceTokenizer tokenizer;
  private final NativeBackbone nat;
  private final int hiddenSize;
  private final int maxLength;
  private final int padId;
  // Forwards take the read lock; attaching or detaching adapters and close() take the write lock.
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private final Map<Adapter, Integer> slots = new IdentityHashMap<>();
  private boolean closed;

  private Backbone(String dir, BackboneOptions options, WordPieceTokenizer tokenizer, NativeBackbone nat) {
    this.dir = dir;
    this.options = options;
    this.tokenizer = tokenizer;
    this.nat = nat;
    this.hiddenSize = nat.hidden_size();
    this.padId = nat.pad_token_id();
    int modelMax = nat.max_sequence_length();
    this.maxLength = options.maxLength() == 0 ? modelMax : Math.min(options.maxLength(), modelMax);
  }

  public static Backbone load(Path dir) {
    return load(dir, BackboneOptions.defaults());
  }

  public static Backbone load(Path dir, BackboneOptions options) {
    if (dir == null) throw new MtpfException("Backbone.load: model folder is null");
    return load(dir.toFile(), options);
  }

  public static Backbone load(String dir, BackboneOptions options) {
    if (dir == null) throw new MtpfException("Backbone.load: model folder is null");
    return load(new File(dir), options);
  }

  public static Backbone load(File dir, BackboneOptions options) {
    if (dir == null) throw new MtpfException("Backbone.load: model folder is null");
    if (options == null) options = BackboneOptions.defaults();
    if (!dir.isDirectory()) throw new MtpfException(dir + ": model folder not found");
    WordPieceTokenizer tokenizer;
    try {
      tokenizer = WordPieceTokenizer.fromFolder(dir.toPath());
    } catch (MtpfException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new MtpfException(dir + ": cannot load the tokenizer: " + e.getMessage(), e);
    }
    String weights = options.weights();
    NativeBackbone nat = RuntimeNative.call("loading backbone " + dir,
        () -> new NativeBackbone(dir.getPath(), weights));
    try {
      if (options.threads() > 0) {
        int threads = options.threads();
        RuntimeNative.call("backbone " + dir + ": set_num_threads", () -> {
          nat.set_num_threads(threads);
          return null;
        });
      }
      return new Backbone(dir.getPath(), options, tokenizer, nat);
    } catch (RuntimeException e) {
      nat.close();
      throw e;
    }
  }

  public String dir() {
    return dir;
  }

  public BackboneOptions options() {
    return options;
  }

  public WordPieceTokenizer tokenizer() {
    return tokenizer;
  }

  public int hiddenSize() {
    return hiddenSize;
  }

  /** Token limit applied to every input (the options' maxLength, capped by the model's positions). */
  public int maxLength() {
    return maxLength;
  }

  public String modelType() {
    return withNative("model_type", NativeBackbone::model_type);
  }

  public int numLayers() {
    return withNative("num_layers", NativeBackbone::num_layers);
  }

  public int threads() {
    return withNative("num_threads", NativeBackbone::num_threads);
  }

  /** Threads of this backbone's forwards (BLAS and the runtime's own kernels). */
  public void setThreads(int threads) {
    if (threads <= 0) throw new MtpfException("backbone " + dir + ": thread count must be positive, got " + threads);
    withNative("set_num_threads", n -> {
      n.set_num_threads(threads);
      return null;
    });
  }

  /** Bytes held by the backbone's weights (int8 weights count one byte each). */
  public long weightBytes() {
    return withNative("weight_bytes", NativeBackbone::weight_bytes);
  }

  /** Bytes one attached adapter holds in this backbone: its LoRA matrices and its head. */
  public long adapterBytes(Adapter adapter) {
    attach(adapter);
    return withNative("adapter_bytes of " + adapter.describe(), n -> n.adapter_bytes(adapter.nativeName()));
  }

  /** The runtime library's version string. */
  public static String runtimeVersion() {
    return RuntimeNative.call("runtime_version", MtpfRuntimeNative::runtime_version);
  }

  /**
   * Loads the adapter's weights (and head) into this backbone now, so that a mismatch (rank, shapes, another base
   * model) fails here rather than at the first forward. Using an adapter attaches it anyway; attaching twice is a
   * no-op.
   */
  public void attach(Adapter adapter) {
    if (adapter == null) throw new MtpfException("backbone " + dir + ": adapter is null");
    lock.readLock().lock();
    try {
      if (slots.containsKey(adapter)) return;
    } finally {
      lock.readLock().unlock();
    }
    lock.writeLock().lock();
    try {
      requireOpen();
      if (slots.containsKey(adapter)) return;
      if (adapter.isClosed()) throw new AdapterException(adapter.describe() + " is closed");
      if (adapter.hasHead() && adapter.headInFeatures() != hiddenSize)
        throw new AdapterException(adapter.describe() + ": head_" + adapter.headName() + " takes " + adapter.headInFeatures()
            + " features but backbone " + dir + " has hidden size " + hiddenSize + " (trained on another base model?)");
      RuntimeNative.call("backbone " + dir + ": loading " + adapter.describe(), () -> {
        nat.load_adapter(adapter.nativeName(), adapter.dir().getPath(), adapter.headName());
        return null;
      });
      if (!adapter.attachedTo(this)) {  // closed while we loaded it
        unloadNative(adapter);
        throw new AdapterException(adapter.describe() + " is closed");
      }
      slots.put(adapter, -1);
      refreshSlots();
    } finally {
      lock.writeLock().unlock();
    }
  }

  /** Unloads the adapter from this backbone (a no-op when it is not attached). */
  public void detach(Adapter adapter) {
    if (adapter == null) return;
    lock.writeLock().lock();
    try {
      if (slots.remove(adapter) == null) return;
      adapter.detachedFrom(this);
      if (!closed) {
        unloadNative(adapter);
        refreshSlots();
      }
    } finally {
      lock.writeLock().unlock();
    }
  }

  /** The adapters attached to this backbone. */
  public List<Adapter> adapters() {
    lock.readLock().lock();
    try {
      return Collections.unmodifiableList(new ArrayList<>(slots.keySet()));
    } finally {
      lock.readLock().unlock();
    }
  }

  private void unloadNative(Adapter adapter) {
    RuntimeNative.call("backbone " + dir + ": unloading " + adapter.describe(), () -> {
      nat.unload_adapter(adapter.nativeName());
      return null;
    });
  }

  // Slots are the native side's; they may move when another adapter is unloaded. Write lock held.
  private void refreshSlots() {
    for (Map.Entry<Adapter, Integer> e : slots.entrySet()) {
      String key = e.getKey().nativeName();
      e.setValue(RuntimeNative.call("backbone " + dir + ": adapter_id", () -> nat.adapter_id(key)));
    }
  }

  /** Mean-pooled embeddings of the plain backbone. */
  public float[][] embed(List<String> texts) {
    return embed(texts, null, EmbedOptions.defaults());
  }

  /** One pooled embedding per text, all through {@code adapter} (null: the plain backbone); mean pooling. */
  public float[][] embed(List<String> texts, Adapter adapter) {
    return embed(texts, adapter, EmbedOptions.defaults());
  }

  public float[][] embed(List<String> texts, Adapter adapter, EmbedOptions options) {
    requireTexts(texts, "embed");
    return embedMixed(texts, Collections.nCopies(texts.size(), adapter), options);
  }

  /**
   * A mixed-adapter batch: text i goes through {@code adapters.get(i)} (null: the plain backbone). The texts share
   * the forward passes whichever adapter they name. (Not an {@code embed} overload, so that {@code embed(texts, null)}
   * stays unambiguous.)
   */
  public float[][] embedMixed(List<String> texts, List<Adapter> adapters) {
    return embedMixed(texts, adapters, EmbedOptions.defaults());
  }

  public float[][] embedMixed(List<String> texts, List<Adapter> adapters, EmbedOptions options) {
    requireTexts(texts, "embed");
    if (options == null) options = EmbedOptions.defaults();
    if (adapters == null || adapters.size() != texts.size())
      throw new MtpfException("embed: " + texts.size() + " texts need " + texts.size() + " adapters, got "
          + (adapters == null ? "null" : adapters.size()));
    List<Encoding> encodings = tokenize(texts, options.textPrefix(), "embed");
    float[][] out = new float[texts.size()][];
    String pooling = options.pooling();
    boolean normalize = options.normalize();
    forEachBatch(encodings, adapters, "embed", (b) -> {
      float[] pooled = new float[b.batch * hiddenSize];
      nat.embed(b.inputIds, b.attentionMask, b.tokenTypeIds, b.adapterIds, b.batch, b.seq, pooling, normalize, pooled);
      for (int i = 0; i < b.batch; i++) out[b.rows[i]] = Arrays.copyOfRange(pooled, i * hiddenSize, (i + 1) * hiddenSize);
    });
    return out;
  }

  /** Last hidden state of each text through {@code adapter} (null: the plain backbone), with its tokenization. */
  public List<TokenEmbeddings> tokenEmbeddings(List<String> texts, Adapter adapter) {
    requireTexts(texts, "tokenEmbeddings");
    List<Encoding> encodings = tokenize(texts, "", "tokenEmbeddings");
    TokenEmbeddings[] out = new TokenEmbeddings[texts.size()];
    forEachBatch(encodings, Collections.nCopies(texts.size(), adapter), "tokenEmbeddings", (b) -> {
      float[] flat = new float[b.batch * b.seq * hiddenSize];
      nat.last_hidden_state(b.inputIds, b.attentionMask, b.tokenTypeIds, b.adapterIds, b.batch, b.seq, flat);
      for (int i = 0; i < b.batch; i++) {
        Encoding e = encodings.get(b.rows[i]);
        float[][] vectors = new float[e.length()][];
        for (int t = 0; t < e.length(); t++) {
          int from = (i * b.seq + t) * hiddenSize;
          vectors[t] = Arrays.copyOfRange(flat, from, from + hiddenSize);
        }
        out[b.rows[i]] = new TokenEmbeddings(e, vectors);
      }
    });
    return Collections.unmodifiableList(Arrays.asList(out));
  }

  /** The entities of one text, tagged by the adapter's head (see {@link #tag(List, Adapter)}). */
  public List<Entity> tag(String text, Adapter adapter) {
    if (text == null) throw new MtpfException("tag: text is null");
    return tag(Collections.singletonList(text), adapter).get(0);
  }

  /**
   * Entities of each text with character offsets: the head's argmax on each word's first sub-token, decoded as BIO
   * (seqeval's default mode). Texts longer than {@link #maxLength} tokens are truncated; words cut off are not
   * tagged. The adapter needs a head and labels (head_NAME.json or labels.json).
   */
  public List<List<Entity>> tag(List<String> texts, Adapter adapter) {
    requireTexts(texts, "tag");
    requireHead(adapter, "tag");
    List<String> labels = adapter.labels();
    if (labels.isEmpty())
      throw new AdapterException("tag: " + adapter.describe() + " has no labels (none in head_" + adapter.headName()
          + ".json and no labels.json)");
    List<Encoding> encodings = tokenize(texts, "", "tag");
    List<float[][]> logits = tokenLogits(encodings, adapter, "tag");
    List<Entity>[] out = newListArray(texts.size());
    for (int i = 0; i < texts.size(); i++)
      out[i] = BioDecoder.entities(texts.get(i), encodings.get(i), logits.get(i), labels);
    return Collections.unmodifiableList(Arrays.asList(out));
  }

  /** The adapter head's logits [token][class] for each token of the text (special tokens included). */
  public float[][] tokenLogits(String text, Adapter adapter) {
    if (text == null) throw new MtpfException("tokenLogits: text is null");
    requireHead(adapter, "tokenLogits");
    List<Encoding> encodings = tokenize(Collections.singletonList(text), "", "tokenLogits");
    return tokenLogits(encodings, adapter, "tokenLogits").get(0);
  }

  private List<float[][]> tokenLogits(List<Encoding> encodings, Adapter adapter, String what) {
    int k = adapter.headClasses();
    float[][][] out = new float[encodings.size()][][];
    forEachBatch(encodings, Collections.nCopies(encodings.size(), adapter), what, (b) -> {
      float[] flat = new float[b.batch * b.seq * k];
      nat.token_logits(b.inputIds, b.attentionMask, b.tokenTypeIds, b.adapterIds, b.batch, b.seq, k, flat);
      for (int i = 0; i < b.batch; i++) {
        int len = encodings.get(b.rows[i]).length();
        float[][] rows = new float[len][];
        for (int t = 0; t < len; t++) rows[t] = Arrays.copyOfRange(flat, (i * b.seq + t) * k, (i * b.seq + t + 1) * k);
        out[b.rows[i]] = rows;
      }
    });
    return Arrays.asList(out);
  }

  private static void requireHead(Adapter adapter, String what) {
    if (adapter == null) throw new MtpfException(what + ": an adapter with a token-classification head is needed, got null");
    if (!adapter.hasHead()) throw new AdapterException(what + ": " + adapter.describe() + " has no head_*.safetensors");
  }

  @SuppressWarnings("unchecked")
  private static List<Entity>[] newListArray(int n) {
    return (List<Entity>[]) new List<?>[n];
  }

  private static void requireTexts(List<String> texts, String what) {
    if (texts == null || texts.isEmpty()) throw new MtpfException(what + ": the text list is empty");
  }

  private List<Encoding> tokenize(List<String> texts, String prefix, String what) {
    List<Encoding> encodings = new ArrayList<>(texts.size());
    for (int i = 0; i < texts.size(); i++) {
      String text = texts.get(i);
      if (text == null) throw new MtpfException(what + ": text " + i + " is null");
      encodings.add(tokenizer.encode(prefix + text, maxLength));
    }
    return encodings;
  }

  private interface BatchBody {
    void run(TokenBatch batch);
  }

  /**
   * Attaches the adapters, then runs {@code body} on length-sorted batches under the read lock with each row's
   * adapter slot filled in. A native error names the backbone, the operation and the batch's first input.
   */
  private void forEachBatch(List<Encoding> encodings, List<Adapter> adapters, String what, BatchBody body) {
    boolean any = false;
    for (Adapter a : adapters) {
      if (a != null) {
        attach(a);
        any = true;
      }
    }
    lock.readLock().lock();
    try {
      requireOpen();
      int[] slotOf = null;
      if (any) {
        slotOf = new int[adapters.size()];
        for (int i = 0; i < slotOf.length; i++) {
          Adapter a = adapters.get(i);
          if (a == null) {
            slotOf[i] = -1;
            continue;
          }
          Integer slot = slots.get(a);
          // Detached (closed) between attach() and here.
          if (slot == null) throw new AdapterException(what + ": " + a.describe() + " was closed");
          slotOf[i] = slot;
        }
      }
      Integer[] order = TokenBatch.byLength(encodings);
      int size = options.batchSize();
      for (int start = 0; start < order.length; start += size) {
        int[] rows = new int[Math.min(size, order.length - start)];
        for (int i = 0; i < rows.length; i++) rows[i] = order[start + i];
        TokenBatch b = TokenBatch.pad(encodings, rows, slotOf, padId);
        Adapter first = adapters.get(rows[0]);
        String context = "backbone " + dir + ": " + what + " of text " + rows[0]
            + (first == null ? "" : " with " + first.describe());
        RuntimeNative.call(context, () -> {
          body.run(b);
          return null;
        });
      }
    } finally {
      lock.readLock().unlock();
    }
  }

  private <T> T withNative(String what, Function<NativeBackbone, T> f) {
    lock.readLock().lock();
    try {
      requireOpen();
      return RuntimeNative.call("backbone " + dir + ": " + what, () -> f.apply(nat));
    } finally {
      lock.readLock().unlock();
    }
  }

  private void requireOpen() {
    if (closed) throw new MtpfException("backbone " + dir + " is closed");
  }

  /** Frees the weights and every attached adapter's copy in this backbone. */
  @Override
  public void close() {
    lock.writeLock().lock();
    try {
      if (closed) return;
      closed = true;
      for (Adapter a : slots.keySet()) a.detachedFrom(this);
      slots.clear();
      nat.close();
    } finally {
      lock.writeLock().unlock();
    }
  }

  @Override
  public String toString() {
    return "Backbone{" + dir + ", hidden=" + hiddenSize + ", " + options + "}";
  }
}
