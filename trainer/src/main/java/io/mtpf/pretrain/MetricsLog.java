package io.mtpf.pretrain;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mtpf.MtpfException;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** metrics.jsonl: one JSON object per logged step (losses, lr, tokens/s, gradient cosine, probes). */
final class MetricsLog implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final BufferedWriter out;

  /** Opens for appending; on a resume, lines past {@code keepThroughStep} (from the interrupted run) are dropped. */
  MetricsLog(Path file, long keepThroughStep) {
    try {
      if (Files.exists(file)) {
        List<String> kept = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
          if (line.isBlank()) continue;
          try {
            if (JSON.readTree(line).path("step").asLong(Long.MAX_VALUE) <= keepThroughStep) kept.add(line);
          } catch (IOException e) {
            // a line cut by the interruption: dropped
          }
        }
        Files.write(file, kept, StandardCharsets.UTF_8);
      }
      out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new MtpfException(file + ": cannot open the metrics log (" + e.getMessage() + ")", e);
    }
  }

  void write(long step, Map<String, Double> values) {
    ObjectNode line = JSON.createObjectNode();
    line.put("step", step);
    values.forEach((k, v) -> {
      if (v == null || !Double.isFinite(v)) line.putNull(k);
      else line.put(k, v);
    });
    try {
      out.write(JSON.writeValueAsString(line));
      out.write('\n');
      out.flush();
    } catch (IOException e) {
      throw new MtpfException("cannot write the metrics log: " + e.getMessage(), e);
    }
  }

  /**
   * What a finished run's metrics.jsonl says, as {@link Pretrainer.Result}: the last step, the first and last logged
   * losses, the probes of step 0 and of the last step that has them (a run whose ranks were separate processes).
   */
  static Pretrainer.Result summary(Path out, double seconds) {
    Path file = out.resolve("metrics.jsonl");
    long steps = 0;
    double[] first = {Double.NaN, Double.NaN}, last = {Double.NaN, Double.NaN};
    Map<String, Double> before = new java.util.LinkedHashMap<>(), after = new java.util.LinkedHashMap<>();
    try {
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        if (line.isBlank()) continue;
        var n = JSON.readTree(line);
        long step = n.path("step").asLong();
        steps = Math.max(steps, step);
        String[] keys = {"tc_loss", "ner_loss"};
        for (int i = 0; i < 2; i++) {
          if (!n.path(keys[i]).isNumber()) continue;
          if (Double.isNaN(first[i])) first[i] = n.get(keys[i]).asDouble();
          last[i] = n.get(keys[i]).asDouble();
        }
        Map<String, Double> probes = new java.util.LinkedHashMap<>();
        n.fields().forEachRemaining(e -> {
          if (e.getKey().startsWith("probe_") && e.getValue().isNumber())
            probes.put(e.getKey().substring("probe_".length()), e.getValue().asDouble());
        });
        if (!probes.isEmpty()) {
          if (step == 0) before.putAll(probes);
          else {
            after.clear();
            after.putAll(probes);
          }
        }
      }
    } catch (IOException e) {
      throw new MtpfException(file + ": cannot read the run's metrics (" + e.getMessage() + ")", e);
    }
    // The ranks' step times stay in their processes: NaN, and the launcher prints the run's time alone.
    return new Pretrainer.Result(out, steps, first[0], last[0], first[1], last[1], before, after, seconds, Double.NaN,
        false);
  }

  @Override
  public void close() {
    try {
      out.close();
    } catch (IOException ignored) {
      // closing after a failed write: the write already reported it
    }
  }
}
