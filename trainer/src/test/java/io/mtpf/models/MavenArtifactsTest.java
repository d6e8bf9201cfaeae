package io.mtpf.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Resolution from a local repository, and downloads from an in-process HTTP server standing in for Central. */
class MavenArtifactsTest {
  static final MavenCoordinates GAV = new MavenCoordinates("org.example.models", "tiny-encoder", "1.0");
  static final byte[] JAR = "not really a jar, but bytes with a known SHA-1".getBytes(StandardCharsets.UTF_8);

  @TempDir Path tmp;
  HttpServer server;
  final Map<String, byte[]> files = new ConcurrentHashMap<>();
  final AtomicInteger requests = new AtomicInteger();
  URI remote;

  @BeforeEach
  void startServer() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/maven2/", exchange -> {
      requests.incrementAndGet();
      byte[] body = files.get(exchange.getRequestURI().getPath().substring("/maven2/".length()));
      exchange.sendResponseHeaders(body == null ? 404 : 200, body == null ? -1 : body.length);
      if (body != null) {
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(body);
        }
      }
      exchange.close();
    });
    server.start();
    remote = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/maven2");
  }

  @AfterEach
  void stopServer() {
    server.stop(0);
  }

  private String sha1(byte[] bytes) throws IOException {
    Path f = Files.write(tmp.resolve("sha1-input"), bytes);
    return MavenArtifacts.sha1Hex(f);
  }

  @Test
  void jarPathFollowsTheRepositoryLayout() {
    assertEquals("org/example/models/tiny-encoder/1.0/tiny-encoder-1.0.jar", GAV.jarPath());
    assertEquals(GAV, MavenCoordinates.parse("org.example.models:tiny-encoder:1.0"));
  }

  @Test
  void downloadsVerifiesAndStoresInTheLocalLayout() throws IOException {
    files.put(GAV.jarPath(), JAR);
    files.put(GAV.jarPath() + ".sha1", (sha1(JAR) + "  tiny-encoder-1.0.jar\n").getBytes(StandardCharsets.US_ASCII));
    Path repo = tmp.resolve("repo");
    MavenArtifacts artifacts = new MavenArtifacts(repo, remote, false);

    MavenArtifacts.Resolved r = artifacts.resolve(GAV);
    assertEquals(repo.resolve(GAV.jarPath()), r.jar());
    assertArrayEquals(JAR, Files.readAllBytes(r.jar()));
    assertEquals(sha1(JAR), r.sha1());
    assertEquals(sha1(JAR), Files.readString(repo.resolve(GAV.jarPath() + ".sha1")));
    int afterDownload = requests.get();

    MavenArtifacts.Resolved again = new MavenArtifacts(repo, remote, true).resolve(GAV);
    assertEquals(r, again);
    assertEquals(afterDownload, requests.get(), "a local jar is not fetched again");
  }

  @Test
  void checksumMismatchKeepsNothing() throws IOException {
    files.put(GAV.jarPath(), JAR);
    files.put(GAV.jarPath() + ".sha1", "0123456789abcdef0123456789abcdef01234567".getBytes(StandardCharsets.US_ASCII));
    Path repo = tmp.resolve("repo");
    ModelImportException e = assertThrows(ModelImportException.class,
        () -> new MavenArtifacts(repo, remote, false).resolve(GAV));
    assertTrue(e.getMessage().startsWith("artifact org.example.models:tiny-encoder:1.0: download from "),
        e.getMessage());
    assertTrue(e.getMessage().endsWith("the repository says 0123456789abcdef0123456789abcdef01234567"),
        e.getMessage());
    try (var left = Files.list(repo.resolve(GAV.jarPath()).getParent())) {
      assertEquals(0, left.count(), "no jar, .sha1 or partial file is left behind");
    }
  }

  @Test
  void missingRemoteArtifactIsNamed() {
    ModelImportException e = assertThrows(ModelImportException.class,
        () -> new MavenArtifacts(tmp.resolve("repo"), remote, false).resolve(GAV));
    assertEquals("artifact org.example.models:tiny-encoder:1.0 not found at " + remote + "/" + GAV.jarPath()
        + ".sha1 (HTTP 404)", e.getMessage());
  }

  @Test
  void offlineNeverDownloads() {
    files.put(GAV.jarPath(), JAR);
    Path repo = tmp.resolve("repo");
    ModelImportException e = assertThrows(ModelImportException.class,
        () -> new MavenArtifacts(repo, remote, true).resolve(GAV));
    assertEquals("artifact org.example.models:tiny-encoder:1.0 is not in the local Maven repository " + repo
        + " and --offline forbids downloading it", e.getMessage());
    assertEquals(0, requests.get());
  }

  @Test
  void corruptLocalJarIsReported() throws IOException {
    Path repo = tmp.resolve("repo");
    Path jar = repo.resolve(GAV.jarPath());
    Files.createDirectories(jar.getParent());
    Files.write(jar, JAR);
    Files.writeString(jar.resolveSibling(jar.getFileName() + ".sha1"), "0".repeat(40));
    ModelImportException e = assertThrows(ModelImportException.class,
        () -> new MavenArtifacts(repo, remote, true).resolve(GAV));
    assertTrue(e.getMessage().contains("but its .sha1 says 0000"), e.getMessage());
    assertFalse(e.getMessage().contains("\n"));
  }

  @Test
  void defaultLocalRepoHonoursMavenRepoLocal() {
    String before = System.getProperty("maven.repo.local");
    try {
      System.setProperty("maven.repo.local", tmp.toString());
      assertEquals(tmp, MavenArtifacts.defaultLocalRepo());
      System.clearProperty("maven.repo.local");
      assertEquals(Path.of(System.getProperty("user.home"), ".m2", "repository"), MavenArtifacts.defaultLocalRepo());
    } finally {
      if (before != null) System.setProperty("maven.repo.local", before);
    }
  }
}
