package io.mtpf.models;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import io.mtpf.formats.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A HF model folder as BertModel.from_pretrained and BertTokenizerFast.from_pretrained read it. It is written into
 * DIR.tmp and renamed into place, so DIR is either absent, the previous folder, or complete.
 */
public final class HfModelFolder {
  private HfModelFolder() {}

  public static final String CONFIG = "config.json";
  public static final String WEIGHTS = "model.safetensors";
  public static final String TOKENIZER = "tokenizer.json";
  public static final String VOCAB = "vocab.txt";
  public static final String TOKENIZER_CONFIG = "tokenizer_config.json";
  public static final String SPECIAL_TOKENS = "special_tokens_map.json";
  /** Where the weights came from; written last, so its presence marks a complete folder. */
  public static final String PROVENANCE = "mtpf-import.json";

  public static final List<String> FILES =
      List.of(CONFIG, WEIGHTS, TOKENIZER, VOCAB, TOKENIZER_CONFIG, SPECIAL_TOKENS, PROVENANCE);

  private static final ObjectWriter JSON = new ObjectMapper().writerWithDefaultPrettyPrinter();

  public static boolean isComplete(Path dir) {
    return FILES.stream().allMatch(f -> Files.isRegularFile(dir.resolve(f)));
  }

  /**
   * Refuses a {@code dir} that holds something other than a folder this class wrote (or an empty folder): writing
   * replaces the whole folder, and `--out .` must not delete the user's files.
   */
  public static void checkReplaceable(Path dir) throws IOException {
    if (!Files.exists(dir) || Files.isRegularFile(dir.resolve(PROVENANCE))) return;
    boolean empty = false;
    if (Files.isDirectory(dir)) {
      try (Stream<Path> entries = Files.list(dir)) {
        empty = entries.findAny().isEmpty();
      }
    }
    if (!empty) {
      throw new ModelImportException(dir + " exists and is not a model folder written by mtpf (no " + PROVENANCE
          + "); choose another --out or remove it");
    }
  }

  /** Writes the folder, replacing a previous one at {@code dir} (see {@link #checkReplaceable}). */
  public static void write(Path dir, BertCheckpoint checkpoint, TokenizerFiles tokenizer, byte[] tokenizerJson,
      Map<String, Object> provenance) throws IOException {
    dir = dir.toAbsolutePath().normalize();
    checkReplaceable(dir);
    Path tmp = dir.resolveSibling(dir.getFileName() + ".tmp");
    deleteRecursively(tmp);
    Files.createDirectories(tmp);
    try {
      JSON.writeValue(tmp.resolve(CONFIG).toFile(), checkpoint.config().toJson());
      Safetensors.write(tmp.resolve(WEIGHTS), checkpoint.tensors());
      Files.write(tmp.resolve(TOKENIZER), tokenizer.tokenizerJson(tokenizerJson));
      Files.write(tmp.resolve(VOCAB), tokenizer.vocabTxt());
      int maxLength = Math.min(512, checkpoint.config().maxPositionEmbeddings());
      JSON.writeValue(tmp.resolve(TOKENIZER_CONFIG).toFile(), tokenizer.tokenizerConfig(maxLength));
      JSON.writeValue(tmp.resolve(SPECIAL_TOKENS).toFile(), tokenizer.specialTokens());
      JSON.writeValue(tmp.resolve(PROVENANCE).toFile(), provenance);
      replace(tmp, dir);
    } catch (IOException | RuntimeException e) {
      deleteRecursively(tmp);
      throw e;
    }
  }

  /** Moves {@code tmp} to {@code dir}; an old {@code dir} is moved aside first and deleted after. */
  private static void replace(Path tmp, Path dir) throws IOException {
    if (!Files.exists(dir)) {
      Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
      return;
    }
    Path old = dir.resolveSibling(dir.getFileName() + ".old");
    deleteRecursively(old);
    Files.move(dir, old, StandardCopyOption.ATOMIC_MOVE);
    Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
    deleteRecursively(old);
  }

  static void deleteRecursively(Path p) throws IOException {
    if (!Files.exists(p)) return;
    try (Stream<Path> walk = Files.walk(p)) {
      for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) Files.delete(q);
    }
  }
}
