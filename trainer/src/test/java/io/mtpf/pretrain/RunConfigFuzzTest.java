package io.mtpf.pretrain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.mtpf.MtpfException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Jazzer fuzz test of the YAML run config: any file is either a valid config — which writes back to YAML and reads
 * again to the same config — or an MtpfException naming the file. Regression inputs (the configs/ files as seeds):
 * src/test/resources/io/mtpf/pretrain/RunConfigFuzzTestInputs.
 */
class RunConfigFuzzTest {
  private static final Path DIR = tempDir();

  @FuzzTest(maxDuration = "30s")
  void runConfig(byte[] data) throws IOException {
    Path f = Files.write(DIR.resolve("run.yaml"), data);
    RunConfig c;
    try {
      c = RunConfig.read(f);
    } catch (MtpfException e) {
      assertTrue(e.getMessage() != null && e.getMessage().contains("run.yaml"), "the error names the file: " + e.getMessage());
      return;
    }
    Path again = Files.writeString(DIR.resolve("again.yaml"), c.toYaml());
    assertEquals(c.toYaml(), RunConfig.read(again).toYaml(), "a config reads back as written");
  }

  private static Path tempDir() {
    try {
      return Files.createTempDirectory("mtpf-fuzz-config");
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
