package io.mtpf.models;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;

/**
 * Finds a jar in the local Maven repository, or downloads it from a remote repository (Maven Central by default)
 * into the same layout, checked against the remote's .sha1 so a damaged download is never kept.
 */
public final class MavenArtifacts {
  public static final String CENTRAL = "https://repo.maven.apache.org/maven2";

  private final Path localRepo;
  private final URI remote;
  private final boolean offline;

  /**
   * @param localRepo root of the local repository layout
   * @param remote base URL of the remote repository, e.g. {@link #CENTRAL}
   * @param offline when true, only the local repository is used
   */
  public MavenArtifacts(Path localRepo, URI remote, boolean offline) {
    this.localRepo = localRepo;
    String base = remote.toString();
    this.remote = URI.create(base.endsWith("/") ? base : base + "/");
    this.offline = offline;
  }

  /** -Dmaven.repo.local when set, else ~/.m2/repository: where Maven itself looks. */
  public static Path defaultLocalRepo() {
    String configured = System.getProperty("maven.repo.local");
    if (configured != null && !configured.isBlank()) return Path.of(configured);
    return Path.of(System.getProperty("user.home"), ".m2", "repository");
  }

  public Path localRepo() {
    return localRepo;
  }

  public Path localPath(MavenCoordinates c) {
    return localRepo.resolve(c.jarPath());
  }

  /** A jar on disk and its SHA-1 (hex), which the import records as provenance. */
  public record Resolved(MavenCoordinates coordinates, Path jar, String sha1) {}

  /** The jar on disk, downloading it first when it is not in the local repository. */
  public Resolved resolve(MavenCoordinates c) {
    Path jar = localPath(c);
    if (Files.isRegularFile(jar)) return new Resolved(c, jar, verifyLocal(c, jar));
    if (offline) {
      throw new ModelImportException("artifact " + c + " is not in the local Maven repository " + localRepo
          + " and --offline forbids downloading it");
    }
    return new Resolved(c, jar, download(c, jar));
  }

  /** A local jar with a .sha1 beside it must match it; a jar without one is taken as Maven left it. */
  private static String verifyLocal(MavenCoordinates c, Path jar) {
    Path sha1File = jar.resolveSibling(jar.getFileName() + ".sha1");
    try {
      String actual = sha1Hex(jar);
      if (Files.isRegularFile(sha1File)) {
        String expected = parseSha1(Files.readString(sha1File, StandardCharsets.US_ASCII));
        if (expected != null && !expected.equals(actual)) {
          throw new ModelImportException("artifact " + c + ": " + jar + " has SHA-1 " + actual + " but its .sha1 says "
              + expected + " (delete the jar to download it again)");
        }
      }
      return actual;
    } catch (IOException e) {
      throw new ModelImportException("artifact " + c + ": cannot read " + jar + " (" + describe(e) + ")", e);
    }
  }

  private String download(MavenCoordinates c, Path jar) {
    URI jarUri = remote.resolve(c.jarPath());
    URI sha1Uri = remote.resolve(c.jarPath() + ".sha1");
    HttpClient http = HttpClient.newBuilder()
        .followRedirects(HttpClient.Redirect.NORMAL)
        .proxy(ProxySelector.getDefault()) // honours -Dhttps.proxyHost and friends
        .connectTimeout(Duration.ofSeconds(30))
        .build();
    Path part = null;
    try {
      HttpResponse<String> sha1Response = http.send(request(sha1Uri), HttpResponse.BodyHandlers.ofString());
      if (sha1Response.statusCode() != 200) {
        throw new ModelImportException("artifact " + c + " not found at " + sha1Uri + " (HTTP "
            + sha1Response.statusCode() + ")");
      }
      String expected = parseSha1(sha1Response.body());
      if (expected == null) throw new ModelImportException("artifact " + c + ": " + sha1Uri + " holds no SHA-1");

      HttpResponse<InputStream> response = http.send(request(jarUri), HttpResponse.BodyHandlers.ofInputStream());
      if (response.statusCode() != 200) {
        response.body().close();
        throw new ModelImportException("artifact " + c + " not found at " + jarUri + " (HTTP "
            + response.statusCode() + ")");
      }
      Files.createDirectories(jar.getParent());
      part = Files.createTempFile(jar.getParent(), jar.getFileName().toString(), ".part");
      MessageDigest sha1 = sha1();
      try (InputStream body = new DigestInputStream(response.body(), sha1);
          OutputStream out = Files.newOutputStream(part)) {
        body.transferTo(out);
      }
      String actual = HexFormat.of().formatHex(sha1.digest());
      if (!actual.equals(expected)) {
        throw new ModelImportException("artifact " + c + ": download from " + jarUri + " has SHA-1 " + actual
            + ", the repository says " + expected);
      }
      Files.writeString(jar.resolveSibling(jar.getFileName() + ".sha1"), expected, StandardCharsets.US_ASCII);
      Files.move(part, jar, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      part = null;
      readableByAll(jar);
      return actual;
    } catch (IOException e) {
      throw new ModelImportException("artifact " + c + ": cannot download " + jarUri + " (" + describe(e) + ")", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ModelImportException("artifact " + c + ": download of " + jarUri + " interrupted", e);
    } finally {
      if (part != null) {
        try {
          Files.deleteIfExists(part);
        } catch (IOException ignored) {
          // a stale .part file is harmless; the next download makes a new one
        }
      }
    }
  }

  /** Temp files are created owner-only; a jar in a shared repository must be readable like Maven's own. */
  private static void readableByAll(Path jar) throws IOException {
    try {
      Files.setPosixFilePermissions(jar, PosixFilePermissions.fromString("rw-r--r--"));
    } catch (UnsupportedOperationException notPosix) {
      // Windows: the ACL inherited from the folder applies
    }
  }

  private static HttpRequest request(URI uri) {
    return HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(10)).header("User-Agent", "mtpf").GET().build();
  }

  /** A .sha1 file holds the hex digest, sometimes followed by the file name. */
  static String parseSha1(String content) {
    String first = content.trim().split("\\s+", 2)[0].toLowerCase(Locale.ROOT);
    return first.matches("[0-9a-f]{40}") ? first : null;
  }

  public static String sha1Hex(Path file) throws IOException {
    MessageDigest sha1 = sha1();
    try (InputStream in = new DigestInputStream(Files.newInputStream(file), sha1)) {
      in.transferTo(OutputStream.nullOutputStream());
    }
    return HexFormat.of().formatHex(sha1.digest());
  }

  private static MessageDigest sha1() {
    try {
      return MessageDigest.getInstance("SHA-1");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-1", e);
    }
  }

  /** The most telling message in a cause chain (HttpClient wraps "Connection refused" in a bare ConnectException). */
  private static String describe(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t.getMessage() != null && !t.getMessage().isBlank()) return t.getMessage();
    }
    return e.getClass().getSimpleName();
  }
}
