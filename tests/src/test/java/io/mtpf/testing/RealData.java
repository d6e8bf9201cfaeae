package io.mtpf.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/** Where the real datasets are (../shared/data), and a visible skip when they are not. */
public final class RealData {
  private RealData() {}

  /** The data folder; the calling test is skipped, with a message on stderr, when it is absent. */
  public static Path dir() {
    String configured = System.getProperty("mtpf.data.dir", "../shared/data");
    Path dir = Path.of(configured).toAbsolutePath().normalize();
    if (!Files.isDirectory(dir)) {
      String msg = "SKIPPED: real data folder " + dir + " is absent (set -Dmtpf.data.dir=DIR)";
      System.err.println(msg);
      assumeTrue(false, msg);
    }
    return dir;
  }

  /** A file under the data folder (gzip, as all files there are); skips visibly when absent. */
  public static Path file(String relative) {
    Path p = dir().resolve(relative);
    if (!Files.exists(p)) {
      String msg = "SKIPPED: real data file " + p + " is absent";
      System.err.println(msg);
      assumeTrue(false, msg);
    }
    return p;
  }

  public static BufferedReader gzipReader(Path p) throws IOException {
    InputStream in = new GZIPInputStream(Files.newInputStream(p), 1 << 16);
    return new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
  }
}
