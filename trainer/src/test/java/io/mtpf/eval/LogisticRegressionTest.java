package io.mtpf.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mtpf.MtpfException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The native logistic regression through Java, and against scikit-learn (scripts/logreg_oracle.py) where present. */
class LogisticRegressionTest {
  @TempDir Path tmp;

  /** Gaussian classes: means ~ N(0, spread^2) + offset, rows = mean + N(0, 1); labels 0..k-1 in turn. */
  record Data(float[][] x, int[] y, float[][] xTest, int[] yTest) {}

  static Data gaussian(int k, int dim, int nTrain, int nTest, double spread, double offset, long seed) {
    Random rng = new Random(seed);
    double[][] means = new double[k][dim];
    for (double[] m : means) for (int j = 0; j < dim; j++) m[j] = rng.nextGaussian() * spread + offset;
    float[][] x = new float[nTrain][], t = new float[nTest][];
    int[] y = new int[nTrain], yt = new int[nTest];
    for (int i = 0; i < nTrain + nTest; i++) {
      float[] row = new float[dim];
      for (int j = 0; j < dim; j++) row[j] = (float) (means[i % k][j] + rng.nextGaussian());
      if (i < nTrain) {
        x[i] = row;
        y[i] = i % k;
      } else {
        t[i - nTrain] = row;
        yt[i - nTrain] = i % k;
      }
    }
    return new Data(x, y, t, yt);
  }

  static final Path ORACLE = Path.of("../scripts/logreg_oracle.py");

  /** Skips (with a message) unless /usr/bin/python3 has scikit-learn and the oracle script is there. */
  static void assumeSklearn() throws Exception {
    boolean script = Files.exists(ORACLE);
    boolean sklearn = script
        && new ProcessBuilder("/usr/bin/python3", "-c", "import sklearn").redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .redirectError(ProcessBuilder.Redirect.DISCARD).start().waitFor() == 0;
    if (!sklearn)
      System.out.println("SKIPPED: " + (script ? "/usr/bin/python3 has no scikit-learn (apt-get install python3-sklearn)"
          : ORACLE.toAbsolutePath() + " not found"));
    assumeTrue(sklearn, "no scikit-learn oracle");
  }

  /** Runs logreg_oracle.py in `mode` on the data (written under dir); its JSON answer. */
  static JsonNode oracle(Path dir, String mode, Data d, String... extra) throws Exception {
    int dim = d.x()[0].length;
    writeFloats(dir.resolve("x.f32"), d.x());
    writeInts(dir.resolve("y.i32"), d.y());
    writeFloats(dir.resolve("t.f32"), d.xTest());
    writeInts(dir.resolve("ty.i32"), d.yTest());
    List<String> cmd = new ArrayList<>(List.of("/usr/bin/python3", ORACLE.toString(), mode,
        "--train-x", dir.resolve("x.f32").toString(), "--train-y", dir.resolve("y.i32").toString(),
        "--test-x", dir.resolve("t.f32").toString(), "--test-y", dir.resolve("ty.i32").toString(),
        "--dim", Integer.toString(dim)));
    cmd.addAll(List.of(extra));
    Path errors = dir.resolve("oracle.err");
    Process p = new ProcessBuilder(cmd).redirectError(errors.toFile()).start();
    String out = new String(p.getInputStream().readAllBytes());  // before waiting: the JSON can fill the pipe
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException("timed out: " + cmd);
    }
    assertEquals(0, p.exitValue(), "logreg_oracle.py failed: " + Files.readString(errors));
    return new ObjectMapper().readTree(out);
  }

  private static void writeFloats(Path path, float[][] rows) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(rows.length * rows[0].length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float[] r : rows) for (float v : r) b.putFloat(v);
    Files.write(path, b.array());
  }

  private static void writeInts(Path path, int[] v) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int x : v) b.putInt(x);
    Files.write(path, b.array());
  }

  static int[] ints(JsonNode array) {
    int[] out = new int[array.size()];
    for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
    return out;
  }

  @Test
  void separatesClassesWithProbabilitiesOverAllLabels() {
    Data d = gaussian(3, 8, 90, 300, 3.0, 0.0, 1);
    int[] y = d.y().clone();
    for (int i = 0; i < y.length; i++) if (y[i] == 2) y[i] = 4;  // labels 0, 1, 4: 2 and 3 never seen
    var r = LogisticRegression.fitPredict(d.x(), y, d.xTest(), 1.0, 100);
    assertEquals(5, r.classes());
    int correct = 0;
    for (int i = 0; i < r.predictions().length; i++) {
      int truth = d.yTest()[i] == 2 ? 4 : d.yTest()[i];
      if (r.predictions()[i] == truth) correct++;
      assertEquals(0f, r.probability(i, 2));
      assertEquals(0f, r.probability(i, 3));
      float sum = 0;
      for (int c = 0; c < 5; c++) sum += r.probability(i, c);
      assertEquals(1f, sum, 1e-5f);
    }
    assertTrue(correct > 0.95 * r.predictions().length, correct + " of " + r.predictions().length);
    assertTrue(r.iterations() > 0);
    var again = LogisticRegression.fitPredict(d.x(), y, d.xTest(), 1.0, 100);
    assertArrayEquals(r.probabilities(), again.probabilities());
  }

  @Test
  void badInputIsAnMtpfException() {
    Data d = gaussian(2, 4, 20, 5, 1.0, 0.0, 2);
    var e = assertThrows(MtpfException.class,
        () -> LogisticRegression.fitPredict(d.x(), new int[20], d.xTest(), 1.0, 100));
    assertTrue(e.getMessage().contains("at least two labels"), e.getMessage());
    float[][] nan = d.x().clone();
    nan[3] = new float[] {0, Float.NaN, 0, 0};
    e = assertThrows(MtpfException.class, () -> LogisticRegression.fitPredict(nan, d.y(), d.xTest(), 1.0, 100));
    assertTrue(e.getMessage().contains("NaN"), e.getMessage());
    e = assertThrows(MtpfException.class,
        () -> LogisticRegression.fitPredict(d.x(), d.y(), new float[][] {{1, 2, 3}}, 1.0, 100));
    assertTrue(e.getMessage().contains("expected 4"), e.getMessage());
  }

  @Test
  void matchesSklearn() throws Exception {
    assumeSklearn();
    // 5 classes x 16 dims (converged fits), a binary case, and MTEB's regime: 8 shots of wide, offset embeddings
    // where lbfgs stops at max_iter = 100.
    Data[] cases = {gaussian(5, 16, 200, 1000, 1.0, 0.0, 11), gaussian(2, 16, 100, 1000, 0.5, 0.0, 12),
        gaussian(5, 256, 40, 1000, 0.3, 2.0, 13)};
    for (int c = 0; c < cases.length; c++) {
      Data d = cases[c];
      Path dir = Files.createDirectories(tmp.resolve("case" + c));
      JsonNode theirs = oracle(dir, "fit", d, "--max-iter", "100");
      var ours = LogisticRegression.fitPredict(d.x(), d.y(), d.xTest(), 1.0, 100);
      int[] pred = ints(theirs.get("predictions"));
      double accOurs = ClassificationScores.accuracy(d.yTest(), ours.predictions());
      double accTheirs = ClassificationScores.accuracy(d.yTest(), pred);
      double agreement = ClassificationScores.accuracy(pred, ours.predictions());
      System.out.printf("case %d: accuracy %.4f (sklearn %s %.4f), agreement %.4f, iterations %d (sklearn %d)%n", c,
          accOurs, theirs.get("sklearn").asText(), accTheirs, agreement, ours.iterations(), theirs.get("n_iter").asInt());
      assertEquals(accTheirs, accOurs, 0.005, "case " + c);
      assertTrue(agreement >= 0.99, "case " + c + ": agreement " + agreement);
    }
  }
}
