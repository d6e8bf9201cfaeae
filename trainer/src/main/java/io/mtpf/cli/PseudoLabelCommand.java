package io.mtpf.cli;

import io.mtpf.data.BadLines;
import io.mtpf.data.WordCorpus;
import io.mtpf.models.ModelResolver;
import io.mtpf.pretrain.PseudoLabeler;
import io.mtpf.pretrain.PseudoLabels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** mtpf pseudo-label: NER pseudo-labels from a teacher's clustered word embeddings, cached for many runs. */
@Command(name = "pseudo-label", mixinStandardHelpOptions = true,
    description = "Label every word of a corpus with the k-means cluster of its teacher embedding (cached, versioned).")
final class PseudoLabelCommand implements Callable<Integer> {
  @Option(names = "--teacher", required = true, description = "teacher model folder or catalog name")
  String teacher;

  @Option(names = "--corpus", paramLabel = "FILE", description = "corpus files (CoNLL, text lines, JSONL text); repeatable")
  List<String> corpus = new ArrayList<>();

  @Option(names = "--data", paramLabel = "DIR", description = "data folder: its */train.txt.gz CoNLL files (without --corpus)")
  String data = "";

  @Option(names = "--out", required = true, paramLabel = "DIR", description = "output folder (reused when inputs match)")
  Path out;

  @Option(names = "--clusters", defaultValue = "200", description = "k (default: ${DEFAULT-VALUE}, the paper's)")
  int clusters;

  @Option(names = "--layers", split = ",", defaultValue = "-1", description = "teacher layers to concatenate, e.g. -1,-7")
  List<Integer> layers;

  @Option(names = "--max-sentences", defaultValue = "0", description = "a seeded sample of at most N sentences (0 = all)")
  int maxSentences;

  @Option(names = "--max-length", defaultValue = "128", description = "teacher token limit per sentence")
  int maxLength;

  @Option(names = "--seed", defaultValue = "42")
  long seed;

  @Option(names = "--device", defaultValue = "cpu")
  String device;

  @Option(names = "--skip-bad-lines", description = "skip (and count) malformed corpus lines instead of failing")
  boolean skipBadLines;

  @Option(names = "--models-dir", defaultValue = "models", paramLabel = "DIR")
  Path modelsDir;

  @Option(names = "--offline", description = "use only the local Maven repository")
  boolean offline;

  @Option(names = "--gold", paramLabel = "FILE",
      description = "a gold NER file (CoNLL) of the same sentences: report the clusters' purity against its entity "
          + "types (written to OUT/purity.json)")
  Path gold;

  @Override
  public Integer call() throws java.io.IOException {
    ModelResolver models = new ModelResolver(modelsDir, offline);
    Path teacherDir = models.resolve(teacher, System.err::println);
    BadLines bad = skipBadLines ? BadLines.skip() : BadLines.fail();
    List<List<String>> sentences = WordCorpus.forPretraining(corpus, data, maxSentences, seed, models.maven(), bad);
    if (!bad.summary().isEmpty()) System.err.println("corpus: " + bad.summary());
    var settings = new PseudoLabeler.Settings(teacherDir, layers, clusters, seed, maxLength, device, 1024, 100);
    PseudoLabels labels = PseudoLabeler.labelCached(settings, sentences, out, System.err::println);
    System.out.printf("%s: %d sentences, %d words, k = %d (%d clusters used), cache key %s%n", out,
        labels.sentences().size(), labels.meta().path("words").asLong(), labels.clusters(),
        labels.meta().path("clusters_used").asInt(), labels.cacheKey());
    if (gold != null) {
      if (!java.nio.file.Files.isRegularFile(gold)) throw new io.mtpf.MtpfException("--gold: " + gold + " not found");
      io.mtpf.pretrain.ClusterPurity p = io.mtpf.pretrain.ClusterPurity.of(labels, gold);
      if (p.matchedSentences() == 0)
        throw new io.mtpf.MtpfException("--gold: none of the pseudo-labelled sentences is in " + gold);
      String json = new com.fasterxml.jackson.databind.ObjectMapper().writerWithDefaultPrettyPrinter()
          .writeValueAsString(java.util.Map.of("gold", gold.toString(), "purity", p));
      io.mtpf.files.AtomicFiles.write(out.resolve("purity.json"), "the clusters' purity",
          tmp -> java.nio.file.Files.writeString(tmp, json + "\n"));
      System.out.printf("purity against %s (%d sentences, %d entity words): entity words %.3f (chance %.3f), all words"
          + " %.3f (chance %.3f)%n", gold, p.matchedSentences(), p.entityWords(), p.entityPurity(), p.entityChance(),
          p.allPurity(), p.allChance());
    }
    return 0;
  }
}
