package io.mtpf;

import io.mtpf.nativebind.MtpfNative.NativeEncoder;
import io.mtpf.nativebind.MtpfNative;
import io.mtpf.tokenizer.Batch;
import io.mtpf.tokenizer.Encoding;
import io.mtpf.tokenizer.LengthBatches;
import io.mtpf.tokenizer.WordPieceTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * An HF encoder (BERT, MiniLM, bge, e5, RoBERTa, DistilBERT) loaded from a model folder into the native core,
 * with its tokenizer. Owns native memory: close it (try-with-resources). Safe for concurrent callers.
 *
 * <pre>{@code
 * try (Encoder enc = Encoder.load(Path.of("models/bge-small-en-v15"))) {
 *   float[][] vectors = enc.encode(List.of("a sentence", "another one"));
 * }
 * }</pre>
 */
public final class Encoder implements AutoCloseable, TokenStateSource {
  private final Path dir;
  private final EncoderOptions options;
  private final WordPieceTokenizer tokenizer;
  private final NativeEncoder nativeEncoder;
  private final int hiddenSize;
  private final int maxLength;
  // Forward passes take the read lock, close() the write lock: a closed encoder is never used mid-call.
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private boolean closed;

  private Encoder(Path dir, EncoderOptions options, WordPieceTokenizer tokenizer, NativeEncoder nativeEncoder) {
    this.dir = dir;
    this.options = options;
    this.tokenizer = tokenizer;
    this.nativeEncoder = nativeEncoder;
    this.hiddenSize = nativeEncoder.hidden_size();
    int modelMax = nativeEncoder.max_sequence_length();
    this.maxLength = options.maxLength() == 0 ? modelMax : Math.min(options.maxLength(), modelMax);
  }

  public static Encoder load(Path dir) {
    return load(dir, EncoderOptions.defaults());
  }

  public static Encoder load(Path dir, EncoderOptions options) {
    if (dir == null) throw new MtpfException("Encoder.load: model folder is null");
    if (!Files.isDirectory(dir)) throw new MtpfException(dir + ": model folder not found");
    WordPieceTokenizer tokenizer;
    try {
      tokenizer = WordPieceTokenizer.fromFolder(dir);
    } catch (MtpfException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new MtpfException(dir + ": cannot load the tokenizer: " + e.getMessage(), e);
    }
    if (options.threads() > 0) NativeCore.setThreads(options.threads());
    else NativeCore.ensureThreads();
    NativeEncoder nat = NativeCore.call("loading " + dir,
        () -> new NativeEncoder(dir.toString(), options.device(), options.precision()));
    return new Encoder(dir, options, tokenizer, nat);
  }

  /** Writes a randomly initialised model folder (HF's init) for a config.json; tokenizer files are not added. */
  public static void initRandom(Path configJson, Path outDir, long seed) {
    NativeCore.call("model_init_random", () -> {
      MtpfNative.model_init_random(configJson.toString(), outDir.toString(), seed);
      return null;
    });
  }

  public Path dir() {
    return dir;
  }

  public EncoderOptions options() {
    return options;
  }

  @Override
  public WordPieceTokenizer tokenizer() {
    return tokenizer;
  }

  @Override
  public int hiddenSize() {
    return hiddenSize;
  }

  public int numLayers() {
    return withNative(NativeEncoder::num_layers);
  }

  public String modelType() {
    return withNative(NativeEncoder::model_type);
  }

  public String device() {
    return withNative(NativeEncoder::device);
  }

  /** Token limit applied to every input (the options' maxLength, capped by the model's positions). */
  public int maxLength() {
    return maxLength;
  }

  /** One pooled vector per text, with the options' pooling, prefix and normalisation. */
  public float[][] encode(List<String> texts) {
    return encode(texts, options.normalize());
  }

  public float[][] encode(List<String> texts, boolean normalize) {
    return encode(texts, normalize, "");
  }

  /** Pooled vectors with a loaded adapter active ({@link #loadAdapter}; "" = the base model). */
  public float[][] encode(List<String> texts, String adapter) {
    return encode(texts, options.normalize(), adapter);
  }

  private float[][] encode(List<String> texts, boolean normalize, String adapter) {
    List<Encoding> encodings = tokenize(texts);
    float[][] out = new float[encodings.size()][];
    forEachBatch(encodings, (batch, rows) -> {
      float[] pooled = new float[rows.length * hiddenSize];
      withNative(n -> {
        n.pooled(batch.inputIds(), batch.attentionMask(), batch.tokenTypeIds(), batch.batchSize(), batch.seqLen(),
            options.pooling(), normalize, pooled, adapter);
        return null;
      });
      for (int i = 0; i < rows.length; i++) out[rows[i]] = Arrays.copyOfRange(pooled, i * hiddenSize, (i + 1) * hiddenSize);
    });
    return out;
  }

  /** Token embeddings (last hidden state, or several layers concatenated) of one text, with the token-word map. */
  public TokenEmbeddings tokenEmbeddings(String text, int... layers) {
    return tokenEmbeddings(List.of(text), layers).get(0);
  }

  /**
   * Token embeddings of each text. With no layers the last hidden state; otherwise the listed hidden states
   * concatenated on the feature axis (0 = embeddings output, -1 = last layer; NuNER uses -1 and -7).
   */
  public List<TokenEmbeddings> tokenEmbeddings(List<String> texts, int... layers) {
    return embedEncodings(tokenize(texts), layers);
  }

  /** Token embeddings of pre-split words (NER input), aligned to those words. */
  public List<TokenEmbeddings> wordTokenEmbeddings(List<List<String>> sentences, int... layers) {
    if (sentences == null || sentences.isEmpty()) throw new MtpfException("wordTokenEmbeddings: the sentence list is empty");
    List<Encoding> encodings = new ArrayList<>(sentences.size());
    for (int i = 0; i < sentences.size(); i++) {
      List<String> words = sentences.get(i);
      if (words == null) throw new MtpfException("wordTokenEmbeddings: sentence " + i + " is null");
      encodings.add(tokenizer.encodeWords(words, maxLength));
    }
    return embedEncodings(encodings, layers);
  }

  private List<TokenEmbeddings> embedEncodings(List<Encoding> encodings, int... layers) {
    int width = hiddenSize * Math.max(1, layers.length);
    TokenEmbeddings[] out = new TokenEmbeddings[encodings.size()];
    forEachBatch(encodings, (batch, rows) -> {
      float[] flat = new float[batch.batchSize() * batch.seqLen() * width];
      withNative(n -> {
        if (layers.length == 0) {
          n.last_hidden_state(batch.inputIds(), batch.attentionMask(), batch.tokenTypeIds(), batch.batchSize(), batch.seqLen(), flat);
        } else {
          n.hidden_states(batch.inputIds(), batch.attentionMask(), batch.tokenTypeIds(), batch.batchSize(), batch.seqLen(), layers,
              layers.length, flat);
        }
        return null;
      });
      for (int i = 0; i < rows.length; i++) {
        Encoding e = encodings.get(rows[i]);
        float[][] vectors = new float[e.length()][];
        for (int t = 0; t < e.length(); t++) {
          int from = (i * batch.seqLen() + t) * width;
          vectors[t] = Arrays.copyOfRange(flat, from, from + width);
        }
        out[rows[i]] = new TokenEmbeddings(e, vectors);
      }
    });
    return List.of(out);
  }

  /**
   * Loads a PEFT adapter folder under {@code name} (as the runtime's {@code Backbone} does), with the head
   * head_&lt;headName&gt; beside it when {@code headName} is not empty. Forwards then take the name; a loaded name is
   * refused until it is unloaded.
   */
  public void loadAdapter(String name, Path dir, String headName) {
    withNative(n -> {
      n.load_adapter(name, dir.toString(), headName == null ? "" : headName);
      return null;
    });
  }

  public void unloadAdapter(String name) {
    withNative(n -> {
      n.unload_adapter(name);
      return null;
    });
  }

  /** Output classes of a loaded adapter's head; 0 when it was loaded without one. */
  public int headClasses(String adapter) {
    return withNative(n -> n.head_classes(adapter));
  }

  /** Last hidden state of an already tokenized, padded batch: row-major [batch, seq, hidden]; "" = base model. */
  @Override
  public float[] tokenStates(Batch batch, String adapter) {
    float[] out = new float[batch.batchSize() * batch.seqLen() * hiddenSize];
    withNative(n -> {
      n.last_hidden_state(batch.inputIds(), batch.attentionMask(), batch.tokenTypeIds(), batch.batchSize(),
          batch.seqLen(), out, adapter == null ? "" : adapter);
      return null;
    });
    return out;
  }

  /** The adapter's head over every token of a padded batch: row-major [batch, seq, headClasses(adapter)]. */
  public float[] tokenLogits(Batch batch, String adapter) {
    return withNative(n -> {
      float[] out = new float[batch.batchSize() * batch.seqLen() * n.head_classes(adapter)];
      n.token_logits(batch.inputIds(), batch.attentionMask(), batch.tokenTypeIds(), batch.batchSize(), batch.seqLen(),
          adapter, out);
      return out;
    });
  }

  /** Writes the model as an HF folder (config.json, model.safetensors, tokenizer files). */
  public void save(Path outDir) {
    withNative(n -> {
      n.save(outDir.toString());
      return null;
    });
  }

  private List<Encoding> tokenize(List<String> texts) {
    if (texts == null || texts.isEmpty()) throw new MtpfException("encode: the text list is empty");
    List<Encoding> encodings = new ArrayList<>(texts.size());
    for (int i = 0; i < texts.size(); i++) {
      String text = texts.get(i);
      if (text == null) throw new MtpfException("encode: text " + i + " is null");
      encodings.add(tokenizer.encode(options.textPrefix() + text, maxLength));
    }
    return encodings;
  }

  private void forEachBatch(List<Encoding> encodings, LengthBatches.Body body) {
    LengthBatches.forEach(encodings, options.batchSize(), withNative(NativeEncoder::pad_token_id), body);
  }

  private <T> T withNative(java.util.function.Function<NativeEncoder, T> f) {
    lock.readLock().lock();
    try {
      if (closed) throw new MtpfException(dir + ": encoder is closed");
      return NativeCore.call("encoder " + dir, () -> f.apply(nativeEncoder));
    } finally {
      lock.readLock().unlock();
    }
  }

  @Override
  public void close() {
    lock.writeLock().lock();
    try {
      if (!closed) {
        closed = true;
        nativeEncoder.close();
      }
    } finally {
      lock.writeLock().unlock();
    }
  }
}
