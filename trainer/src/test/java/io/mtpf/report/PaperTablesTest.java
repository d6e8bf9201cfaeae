package io.mtpf.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mtpf.cli.CliRunner;
import io.mtpf.eval.EvalResults;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The paper's tables from two hand-made results files, compared as exact Markdown; the figures as PNGs. */
class PaperTablesTest {
  @TempDir Path tmp;

  static final String BASE = """
      {"format": "mtpf-eval-results/1", "config": {"label": "base"},
       "datasets": [
        {"name": "CoNLL-2003", "family": "ner", "status": "ok", "runs": [
          {"seed": 42, "fraction": 1.0, "main": 0.88}, {"seed": 43, "fraction": 1.0, "main": 0.90},
          {"seed": 42, "fraction": 0.1, "main": 0.60}, {"seed": 43, "fraction": 0.1, "main": 0.70}]},
        {"name": "OntoNotes5", "family": "ner", "status": "absent: not found under /d: ontonotes5/"},
        {"name": "MIT Restaurant", "family": "ner", "status": "ok", "runs": [
          {"seed": 42, "fraction": 1.0, "main": 0.75}, {"seed": 42, "fraction": 0.1, "main": 0.40}]},
        {"name": "Banking77", "family": "tc", "status": "ok", "runs": [{"seed": 42, "fraction": 1.0, "main": 0.80}]},
        {"name": "Emotion", "family": "tc", "status": "ok", "runs": [{"seed": 42, "fraction": 1.0, "main": 0.40}]},
        {"name": "IMDB", "family": "tc", "status": "absent: not found under /d: imdb/"}]}
      """;

  static final String TPL = """
      {"format": "mtpf-eval-results/1", "config": {"label": "tpl", "lora_layers": 2},
       "datasets": [
        {"name": "CoNLL-2003", "family": "ner", "status": "ok", "runs": [
          {"seed": 42, "fraction": 1.0, "main": 0.91}, {"seed": 42, "fraction": 0.1, "main": 0.72}]},
        {"name": "MIT Restaurant", "family": "ner", "status": "ok", "runs": [{"seed": 42, "fraction": 1.0, "main": 0.77}]},
        {"name": "Banking77", "family": "tc", "status": "ok", "runs": [{"seed": 42, "fraction": 1.0, "main": 0.85}]},
        {"name": "Emotion", "family": "tc", "status": "ok", "runs": [{"seed": 42, "fraction": 1.0, "main": 0.47}]},
        {"name": "mine", "family": "tc", "source": "user", "status": "ok",
         "runs": [{"seed": 42, "fraction": 1.0, "main": 0.50}]}]}
      """;

  List<PaperTables.NamedRun> runs() throws Exception {
    Path a = Files.createDirectories(tmp.resolve("runs/base"));
    Path b = Files.createDirectories(tmp.resolve("runs/tpl"));
    Files.writeString(a.resolve("results.json"), BASE);
    Files.writeString(b.resolve("results.json"), TPL);
    return PaperTables.name(List.of(EvalResults.read(a), EvalResults.read(b)), List.of("a", "b"));
  }

  @Test
  void nerTableInTheLayoutOfTable5() throws Exception {
    assertEquals("""
        | Run | CoNLL | OntoNotes5 | MIT Restaurant | BioNLP | CrossNER | Average |
        |---|---|---|---|---|---|---|
        | base | 89.0 | – | 75.0 | – | – | 82.0 (2/5) |
        | tpl | 91.0 | – | 77.0 | – | – | 84.0 (2/5) |

        - base: OntoNotes5 absent: not found under /d: ontonotes5/
        """, PaperTables.nerTable(runs()));
  }

  @Test
  void tcTableInTheLayoutOfTable6WithTheUsersDatasetOutsideTheAverage() throws Exception {
    assertEquals("""
        | Run | Bank. | Emo. | ACF | MI | TS | TC | News | Patent | FPB | FE | Imdb | Arxiv | DB. | TTS. | YRF | TCon. | mine | Avg. |
        |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
        | base | 80.0 | 40.0 | – | – | – | – | – | – | – | – | – | – | – | – | – | – | – | 60.0 (2/16) |
        | tpl | 85.0 | 47.0 | – | – | – | – | – | – | – | – | – | – | – | – | – | – | 50.0 | 66.0 (2/16) |

        - base: IMDB absent: not found under /d: imdb/
        """, PaperTables.tcTable(runs()));
  }

  @Test
  void summaryInTheLayoutOfTables1To3() throws Exception {
    List<PaperTables.NamedRun> runs = runs();
    assertEquals("""
        | Run | NER (5 DS) | TC (16 DS) | Average |
        |---|---|---|---|
        | base | 82.0 (2/5) | 60.0 (2/16) | 71.0 |
        | tpl | +2.0 (2/5) | +6.0 (2/16) | +4.0 |

        Rows after base are differences to it, over the datasets both runs have.
        """, PaperTables.summary(runs, runs.get(0)));
    assertEquals("""
        | Run | NER (5 DS) | TC (16 DS) | Average |
        |---|---|---|---|
        | base | 82.0 (2/5) | 60.0 (2/16) | 71.0 |
        | tpl | 84.0 (2/5) | 66.0 (2/16) | 75.0 |
        """, PaperTables.summary(runs, null));
  }

  @Test
  void lowResourceTableInTheLayoutOfTable11() throws Exception {
    assertEquals("""
        | Data portion | Run | CoNLL | OntoNotes5 | MIT Restaurant | BioNLP | CrossNER | Average |
        |---|---|---|---|---|---|---|---|
        | 10% | base | 65.0 ± 7.1 | – | 40.0 ± 0.0 | – | – | 52.5 (2/5) |
        |  | tpl | 72.0 ± 0.0 | – | – | – | – | 72.0 (1/5) |
        | 100% | base | 89.0 ± 1.4 | – | 75.0 ± 0.0 | – | – | 82.0 (2/5) |
        |  | tpl | 91.0 ± 0.0 | – | 77.0 ± 0.0 | – | – | 84.0 (2/5) |
        """, PaperTables.lowResource(runs()));
  }

  @Test
  void fractionsPrintAsPercentagesWithoutFloatNoise() {
    assertEquals("5%", PaperTables.percent(0.05));
    assertEquals("1%", PaperTables.percent(0.01));
    assertEquals("0.1%", PaperTables.percent(0.001));
    assertEquals("12.5%", PaperTables.percent(0.125));
    assertEquals("100%", PaperTables.percent(1.0));
  }

  @Test
  void reportCommandWritesTheTablesAndTheFigures() throws Exception {
    runs();
    Path pretrain = Files.createDirectories(tmp.resolve("runs/pf"));
    StringBuilder metrics = new StringBuilder();
    for (int step = 0; step <= 4000; step += 1000) {
      metrics.append(String.format(java.util.Locale.ROOT,
          "{\"step\": %d, \"tc_loss\": 1.0, \"probe_token_cosine\": %.3f, \"probe_entity_swap_cosine\": %.3f}%n", step,
          0.3 + step / 20000.0, 0.8 + step / 40000.0));
    }
    Files.writeString(pretrain.resolve("metrics.jsonl"), metrics.toString());
    Path out = tmp.resolve("report");
    var result = CliRunner.run("report", tmp.resolve("runs/tpl").toString(), pretrain.toString(), "--baseline",
        tmp.resolve("runs/base").toString(), "--out", out.toString());
    assertEquals(0, result.code(), result.err());
    String md = Files.readString(out.resolve("report.md"));
    assertTrue(md.contains("| tpl | +2.0 (2/5) | +6.0 (2/16) | +4.0 |"), md);
    assertTrue(md.contains("## NER with limited data (Table 11)"), md);
    assertTrue(md.contains("](fig3_probes.png)") && md.contains("](fig4_lora_layers.png)"), md);
    assertTrue(md.contains("](pretrain_losses.png)"), md);
    assertEquals(md, result.out().substring(0, md.length()));
    for (String png : List.of("fig3_probes.png", "fig4_lora_layers.png", "pretrain_losses.png")) {
      BufferedImage image = ImageIO.read(out.resolve(png).toFile());
      assertEquals(Plots.WIDTH, image.getWidth(), png);
    }
    // A folder that is neither kind of run is an error naming it.
    var bad = CliRunner.run("report", tmp.resolve("nothing-here").toString());
    assertEquals(1, bad.code());
    assertTrue(bad.err().contains("nothing-here") && bad.err().contains("not found"), bad.err());
  }

  private static final class Plots {
    static final int WIDTH = io.mtpf.pretrain.Plots.WIDTH;
  }
}
