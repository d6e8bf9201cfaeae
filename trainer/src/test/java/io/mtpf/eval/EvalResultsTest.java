package io.mtpf.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mtpf.MtpfException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** results.json: written and read back unchanged, snake_case, no NaN, clear errors for what is not one. */
class EvalResultsTest {
  @TempDir Path tmp;

  static EvalResults sample() {
    var config = new EvalResults.Config("tpl", "quick", "all", "/data", "mean", "query: ", true, 256, "cpu", 2,
        List.of(42L, 43L), List.of(0.1, 1.0),
        new EvalResults.NerProtocol(1, 3, 0, 64, 5e-4, 0.01, 32, 64, 128, 500, 200, 500),
        new EvalResults.TcProtocol(MtebTasks.MTEB_VERSION, 10, 42, 1.0, 100, 0), 2, "/run/cache");
    var ner = new EvalResults.Ner(0.81, 0.79, 0.7999, Map.of("PER", new EvalResults.TypeScores(0.9, 0.8, 0.847, 12)),
        3, null, List.of(new EvalResults.EpochStat(1, 1, 1.25, 0.5, 2.5, 200.0),
        new EvalResults.EpochStat(2, 2, 0.75, null, 3.0, 166.66666666666666)), 181.81818181818181);
    var tc = new EvalResults.Tc(0.7123456789, 0.01, 0.65, 0.02, 0.55, 0.03, 32, 10, 1, 640, 0, 3.2, 200.0, 0.8);
    var nerResult = new EvalResults.DatasetResult("CoNLL-2003", "CoNLL", "ner", "paper", "ok",
        Map.of("train", List.of("/data/conll2003/train.txt.gz")), "LoRA", "9 tags",
        List.of(new EvalResults.Run(42, 0.1, 50, 200, 500, 0.7999, ner, null, 12.5)));
    var tcResult = new EvalResults.DatasetResult("AmazonCounterfactual", "ACF", "tc", "paper", "ok", Map.of(),
        "MTEB", "2 labels", List.of(new EvalResults.Run(42, 1.0, 4018, null, 670, 0.7123456789, null, tc, 4.0)));
    var absent = new EvalResults.DatasetResult("OntoNotes5", "OntoNotes5", "ner", "paper", "absent: not found",
        Map.of(), "LoRA", null, List.of());
    return new EvalResults(EvalResults.FORMAT, "0.1.0", "2026-01-01T00:00:00Z", config,
        new EvalResults.Artifact("/m", "ab".repeat(32), null),
        Map.of("ner", new EvalResults.Artifact("/a", "cd".repeat(32), 2)), List.of(nerResult, tcResult, absent),
        new EvalResults.Timing(20.5, 12.5, 4.0));
  }

  @Test
  void roundTripsUnchanged() throws Exception {
    EvalResults r = sample();
    Path file = tmp.resolve("run/results.json");
    r.write(file);
    assertEquals(r, EvalResults.read(file));
    assertEquals(r, EvalResults.read(file.getParent()));
    String json = Files.readString(file);
    assertTrue(json.contains("\"mtpf_version\"") && json.contains("\"train_sentences_per_second\""), json);
    assertFalse(json.contains("NaN"), json);
    assertTrue(json.contains("\"dev_f1\" : null"), json);
    assertFalse(Files.list(file.getParent()).anyMatch(p -> p.toString().endsWith(".tmp")), "no temporary file left");
    assertTrue(r.dataset("OntoNotes5") != null && !r.dataset("OntoNotes5").ok());
    assertEquals(1, r.dataset("CoNLL-2003").at(0.1).size());
    assertTrue(r.dataset("CoNLL-2003").at(1.0).isEmpty());
    assertNull(EvalResults.finite(Double.NaN));
  }

  @Test
  void rejectsWhatIsNotAResultsFile() throws Exception {
    MtpfException e = assertThrows(MtpfException.class, () -> EvalResults.read(tmp.resolve("none")));
    assertTrue(e.getMessage().contains("none") && e.getMessage().contains("not found"), e.getMessage());
    Path garbage = tmp.resolve("garbage.json");
    Files.writeString(garbage, "{not json");
    e = assertThrows(MtpfException.class, () -> EvalResults.read(garbage));
    assertTrue(e.getMessage().startsWith(garbage + ": not an mtpf results file"), e.getMessage());
    Path other = tmp.resolve("other.json");
    Files.writeString(other, "{\"format\": \"something-else\"}");
    e = assertThrows(MtpfException.class, () -> EvalResults.read(other));
    assertTrue(e.getMessage().contains("'something-else'"), e.getMessage());
  }
}
