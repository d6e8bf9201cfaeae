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

  @Override
  public void close() {
    try {
      out.close();
    } catch (IOException ignored) {
      // closing after a failed write: the write already reported it
    }
  }
}
